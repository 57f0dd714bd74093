# agni-gateway container: a Debian 12 build stage and a slim runtime stage
# holding only the shared libraries the binary links against (SQLiteCpp links
# statically). tests/e2e/deploy_test.sh checks that the runtime package list
# covers the Debian package of every library `ldd` lists for the built binary,
# and the other promises below (non-root user, volume, health check, key
# from a secret file).
#
#   docker build --build-arg AGNI_COMMIT=$(git rev-parse --short=12 HEAD) -t agni-gateway .
#   docker run -v agni-audit:/var/lib/agni-gateway \
#     -v ./gateway-config:/etc/agni-gateway:ro \
#     -v ./agni_api_key:/run/secrets/agni_api_key:ro -p 8443:8443 agni-gateway
#
# The example config (deploy/examples/gateway.json) serves HTTPS on :8443
# with gateway-config/tls/tls.crt and tls.key, and keeps the admin listener
# (/metrics, /readyz) on the container's loopback, where the HEALTHCHECK
# reaches it; it is not published.

FROM debian:12 AS build
RUN apt-get update \
 && apt-get install -y --no-install-recommends \
      cmake ninja-build g++ pkg-config libcpp-httplib-dev nlohmann-json3-dev \
      libsqlitecpp-dev libsqlite3-dev prometheus-cpp-dev libssl-dev \
      libgtest-dev libgmock-dev libcli11-dev \
      libhowardhinnant-date-dev libbenchmark-dev \
 && rm -rf /var/lib/apt/lists/*
ARG AGNI_COMMIT=unknown
WORKDIR /src
COPY CMakeLists.txt ./
COPY base base
COPY gateway gateway
COPY policies policies
COPY audit audit
COPY tests tests
RUN cmake -S . -B /build -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo \
      -DAGNI_COMMIT="${AGNI_COMMIT}" \
 && cmake --build /build --target agni-gateway \
 && strip /build/agni-gateway

FROM debian:12-slim
RUN apt-get update \
 && apt-get install -y --no-install-recommends \
      libcpp-httplib0.11 libprometheus-cpp-core1.0 libsqlite3-0 libssl3 \
      libbrotli1 zlib1g libstdc++6 libgcc-s1 libc6 ca-certificates \
      libdate-tz3 tzdata \
 && rm -rf /var/lib/apt/lists/* \
 && useradd --system --uid 10001 --home-dir /var/lib/agni-gateway \
      --shell /usr/sbin/nologin agni \
 && install -d -o agni -g agni -m 0750 /var/lib/agni-gateway
COPY --from=build /build/agni-gateway /usr/local/bin/agni-gateway
COPY deploy/examples/ /etc/agni-gateway/
USER agni
VOLUME ["/var/lib/agni-gateway"]
ENV AGNI_API_KEY_FILE=/run/secrets/agni_api_key
EXPOSE 8443
HEALTHCHECK --interval=10s --timeout=3s --retries=3 \
  CMD ["/usr/local/bin/agni-gateway", "healthcheck", "--config", "/etc/agni-gateway/gateway.json"]
ENTRYPOINT ["/usr/local/bin/agni-gateway"]
CMD ["serve", "--config", "/etc/agni-gateway/gateway.json"]
