// The gateway's own view of an HTTP exchange, so the pipeline and its tests do
// not depend on the HTTP library.
#pragma once

#include <functional>
#include <optional>
#include <string>
#include <utility>
#include <vector>

namespace agni {

struct HttpResponse {
  int status = 500;
  std::string content_type;
  std::string body;
  std::vector<std::pair<std::string, std::string>> headers;
};

// Sends an answer held back by HttpRequest::hold_answer (once, from any
// thread): the answer written, or `instead` in its place, after which the
// connection ends.
using AnswerRelease = std::function<void(std::optional<HttpResponse> instead)>;

struct HttpRequest {
  std::string method;
  std::string target;  // raw request target: path and query, nothing decoded
  std::string peer;    // TCP peer address
  std::vector<std::string> authorization;  // every Authorization header
  std::vector<std::string> api_key;        // every X-Api-Key header
  std::vector<std::string> request_id;     // every X-Request-Id header
  bool has_body = false;  // Content-Length > 0 or Transfer-Encoding present
  // The configured user a verified TLS client certificate maps to (mTLS), or
  // empty. Used only when the request carries no credential header.
  std::string client_certificate_user;
  std::vector<std::string> approval_id;  // every X-Approval-Id header
  std::string body;  // read only for the approvals API's POST routes
  std::vector<std::string> forwarded_for;  // every X-Forwarded-For header
  std::string version;            // "HTTP/1.1", "HTTP/1.0"; empty: not HTTP
  std::vector<std::string> host;  // every Host header
  std::vector<std::string> release_reason;  // every X-Release-Reason header
  // The web console's session (gateway/console/sessions.h).
  std::vector<std::string> cookie;      // every Cookie header
  std::vector<std::string> origin;      // every Origin header
  std::vector<std::string> csrf_token;  // every X-CSRF-Token header
  // An Authorization header too long to read was left out (an oversized
  // token, refused as `too_large`; gateway/http/request_head.h).
  bool authorization_too_large = false;
  // Set on a plain connection, for use while the request is handled: holds
  // this request's answer back, once written, until the AnswerRelease it
  // returns is called, which sends it. The pipeline answers a release (once
  // its outcome is durable) and a refusal (once its record is) this way,
  // without sleeping until the commit is done. Empty, or returning an empty
  // function, where an answer cannot be held (TLS, tests): the pipeline then
  // waits itself.
  std::function<AnswerRelease()> hold_answer;
};

}  // namespace agni
