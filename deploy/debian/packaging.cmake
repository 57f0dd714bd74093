# Install rules (`cmake --install`) and the Debian package (`cpack -G DEB` in
# the build folder). Included by the top-level CMakeLists.txt.
#
# Layout under the install prefix (/usr in the package):
#   bin/agni-gateway
#   lib/systemd/system/agni-gateway.service   runs bin/agni-gateway as user agni
#   share/agni-gateway/{alerts.yml,agni-gateway-dashboard.json}
#   share/doc/agni-gateway/{README.md,copyright,changelog.gz,examples/}
#   share/man/man1/agni-gateway.1.gz
# The package's maintainer scripts (postinst, prerm, postrm in this folder)
# create the agni user, /var/lib/agni-gateway and /etc/agni-gateway.
include(GNUInstallDirs)

set(AGNI_DEB_DIR ${CMAKE_SOURCE_DIR}/deploy/debian)
set(AGNI_DEB_MAINTAINER
  "agni-gateway maintainers <maintainers@users.noreply.r-seed-af0dec76.example>"
  CACHE STRING "Maintainer field of the Debian package")
set(AGNI_DEB_HOMEPAGE "https://r-seed-af0dec76.example/agni-gateway"
  CACHE STRING "Homepage field of the Debian package")

# Full RELRO, as Debian builds its own services (lintian hardening-no-bindnow).
target_link_options(agni-gateway PRIVATE LINKER:-z,relro LINKER:-z,now)
install(TARGETS agni-gateway RUNTIME DESTINATION ${CMAKE_INSTALL_BINDIR})

# The unit is deploy/systemd/agni-gateway.service with the install prefix's
# binary and the static agni user instead of DynamicUser (the package owns
# /var/lib/agni-gateway as agni, so the audit database keeps one owner across
# upgrades). Written at install time because only then is the prefix known
# (`cmake --install --prefix`, CPack's /usr).
file(READ ${CMAKE_SOURCE_DIR}/deploy/systemd/agni-gateway.service agni_unit)
foreach(needle "/usr/local/bin/agni-gateway" "DynamicUser=yes\n"
               "file:///usr/share/doc/agni-gateway/" "\n[Unit]\n")
  string(FIND "${agni_unit}" "${needle}" agni_at)
  if(agni_at EQUAL -1)
    message(FATAL_ERROR "deploy/systemd/agni-gateway.service no longer holds "
      "'${needle}', which deploy/debian/packaging.cmake rewrites for the "
      "installed unit; update both together.")
  endif()
endforeach()
# Drop the header (hand-install steps) and keep everything from [Unit] on.
string(FIND "${agni_unit}" "\n[Unit]\n" agni_at)
math(EXPR agni_at "${agni_at} + 1")
string(SUBSTRING "${agni_unit}" ${agni_at} -1 agni_unit)
string(REPLACE "DynamicUser=yes\n"
  "User=agni\nGroup=agni\n# What DynamicUser= implied and the rest does not set.\nRemoveIPC=yes\n"
  agni_unit "${agni_unit}")
string(PREPEND agni_unit
"# agni-gateway as a hardened systemd service, installed from
# deploy/systemd/agni-gateway.service by the project's install rules.
#
# Config in /etc/agni-gateway (gateway.json, policy.json, numbers.json); the
# package writes them from the examples only when absent. The unit starts once
# the upstream key is in place:
#   install -m 0600 /dev/stdin /etc/agni-gateway/agni_api_key   # paste the key
#   systemctl start agni-gateway      # enabled by the package
#   systemctl reload agni-gateway     # SIGHUP: reload users and policy
# The audit database lives in /var/lib/agni-gateway (StateDirectory, user agni).

")
file(WRITE ${CMAKE_BINARY_DIR}/deb/agni-gateway.service.in "${agni_unit}")
install(CODE "
  file(READ \"${CMAKE_BINARY_DIR}/deb/agni-gateway.service.in\" unit)
  string(REPLACE \"/usr/local/bin/agni-gateway\"
    \"\${CMAKE_INSTALL_PREFIX}/${CMAKE_INSTALL_BINDIR}/agni-gateway\" unit \"\${unit}\")
  string(REPLACE \"file:///usr/share/doc/agni-gateway/\"
    \"file://\${CMAKE_INSTALL_PREFIX}/${CMAKE_INSTALL_DOCDIR}/\" unit \"\${unit}\")
  file(WRITE \"${CMAKE_BINARY_DIR}/deb/unit/agni-gateway.service\" \"\${unit}\")
  file(INSTALL \"${CMAKE_BINARY_DIR}/deb/unit/agni-gateway.service\"
    DESTINATION \"\${CMAKE_INSTALL_PREFIX}/lib/systemd/system\"
    FILE_PERMISSIONS OWNER_READ OWNER_WRITE GROUP_READ WORLD_READ)
")

install(FILES
  ${CMAKE_SOURCE_DIR}/deploy/examples/gateway.json
  ${CMAKE_SOURCE_DIR}/deploy/examples/gateway-chat.json
  ${CMAKE_SOURCE_DIR}/deploy/examples/policy.json
  ${CMAKE_SOURCE_DIR}/deploy/examples/numbers.json
  DESTINATION ${CMAKE_INSTALL_DOCDIR}/examples)
install(FILES
  ${CMAKE_SOURCE_DIR}/deploy/prometheus/alerts.yml
  ${CMAKE_SOURCE_DIR}/deploy/grafana/agni-gateway-dashboard.json
  DESTINATION ${CMAKE_INSTALL_DATADIR}/agni-gateway)

# Debian's documentation files: copyright as is, changelog and manual page
# compressed without a name or time stamp (the same bytes on every build).
# The changelog entry is dated by the commit, so a rebuild makes the same file.
execute_process(COMMAND git log -1 --format=%aD
  WORKING_DIRECTORY ${CMAKE_SOURCE_DIR} OUTPUT_VARIABLE AGNI_DEB_DATE
  OUTPUT_STRIP_TRAILING_WHITESPACE ERROR_QUIET RESULT_VARIABLE agni_git_rc)
if(NOT agni_git_rc EQUAL 0 OR NOT AGNI_DEB_DATE)
  set(AGNI_DEB_DATE "Thu, 01 Jan 1970 00:00:00 +0000")
endif()
configure_file(${AGNI_DEB_DIR}/changelog.in ${CMAKE_BINARY_DIR}/deb/changelog @ONLY)
foreach(doc changelog agni-gateway.1)
  if(doc STREQUAL "changelog")
    set(agni_src ${CMAKE_BINARY_DIR}/deb/changelog)
  else()
    set(agni_src ${AGNI_DEB_DIR}/${doc})
  endif()
  execute_process(COMMAND gzip -9nc ${agni_src}
    OUTPUT_FILE ${CMAKE_BINARY_DIR}/deb/${doc}.gz RESULT_VARIABLE agni_gz_rc)
  if(NOT agni_gz_rc EQUAL 0)
    message(FATAL_ERROR "gzip ${agni_src} failed")
  endif()
endforeach()
set_property(DIRECTORY APPEND PROPERTY CMAKE_CONFIGURE_DEPENDS
  ${AGNI_DEB_DIR}/agni-gateway.1 ${CMAKE_SOURCE_DIR}/deploy/systemd/agni-gateway.service)
install(FILES ${CMAKE_SOURCE_DIR}/README.md ${AGNI_DEB_DIR}/copyright
  ${CMAKE_BINARY_DIR}/deb/changelog.gz DESTINATION ${CMAKE_INSTALL_DOCDIR})
install(FILES ${CMAKE_BINARY_DIR}/deb/agni-gateway.1.gz
  DESTINATION ${CMAKE_INSTALL_MANDIR}/man1)

# `cmake --install` into a scratch prefix, in the suite (no root needed); the
# package itself is tested by tests/e2e/package_test.sh (tests/run.sh).
add_test(NAME install_rules
  COMMAND bash ${CMAKE_SOURCE_DIR}/tests/e2e/install_rules_test.sh ${CMAKE_BINARY_DIR})
set_tests_properties(install_rules PROPERTIES TIMEOUT 120)

# The package.
set(CPACK_GENERATOR DEB)
set(CPACK_PACKAGE_NAME agni-gateway)
set(CPACK_PACKAGE_VERSION ${PROJECT_VERSION})
set(CPACK_PACKAGE_CONTACT "${AGNI_DEB_MAINTAINER}")
set(CPACK_PACKAGE_DESCRIPTION_SUMMARY
  "audited, policy-enforcing gateway for Agni phone-number releases")
set(CPACK_PACKAGE_DESCRIPTION
"agni-gateway is an HTTP reverse proxy in front of the Agni phone-number
release API. It authenticates internal users, applies allow/deny policy and
approval rules, keeps the upstream API key away from callers, writes a
hash-chained SQLite audit record before and after every forwarded release and
exports Prometheus metrics.

The package installs a hardened systemd unit running as the system user agni,
example configuration (copied to /etc/agni-gateway when absent), and the
Prometheus alert rules and Grafana dashboard.")
# The install rules write absolute paths into the unit, so CPack installs with
# the package's prefix under DESTDIR rather than a staging prefix.
set(CPACK_SET_DESTDIR ON)
set(CPACK_INSTALL_PREFIX /usr)
set(CPACK_PACKAGING_INSTALL_PREFIX /usr)
set(CPACK_STRIP_FILES ON)
set(CPACK_DEBIAN_FILE_NAME DEB-DEFAULT)
set(CPACK_DEBIAN_PACKAGE_SECTION net)
set(CPACK_DEBIAN_PACKAGE_PRIORITY optional)
set(CPACK_DEBIAN_PACKAGE_HOMEPAGE "${AGNI_DEB_HOMEPAGE}")
# Libraries from dpkg-shlibdeps on the binary; adduser for postinst, the CA
# bundle the example config verifies the upstream with.
set(CPACK_DEBIAN_PACKAGE_SHLIBDEPS ON)
set(CPACK_DEBIAN_PACKAGE_DEPENDS "adduser, ca-certificates, openssl")
set(CPACK_DEBIAN_PACKAGE_CONTROL_EXTRA
  ${AGNI_DEB_DIR}/postinst ${AGNI_DEB_DIR}/prerm ${AGNI_DEB_DIR}/postrm)
set(CPACK_DEBIAN_PACKAGE_CONTROL_STRICT_PERMISSION ON)
include(CPack)
