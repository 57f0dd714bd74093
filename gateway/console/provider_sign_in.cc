#include "gateway/console/provider_sign_in.h"

#include <fstream>
#include <sstream>

#include <nlohmann/json.hpp>

#include "base/crypto.h"
#include "gateway/auth/identity.h"
#include "gateway/console/provider_http.h"
#include "gateway/console/sessions.h"

namespace agni {
namespace {

constexpr std::size_t kRandomBytes = 32;

using Failure = ProviderSignIn::Failure;

ProviderSignIn::Finished Refuse(Failure failure, std::string detail,
                                std::string provider = "") {
  ProviderSignIn::Finished out;
  out.failure = failure;
  out.detail = std::move(detail);
  out.provider = std::move(provider);
  return out;
}

int HexValue(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

// The inverse of FormEncode ('+' is a space).
std::string FormDecode(std::string_view raw) {
  std::string value;
  for (std::size_t i = 0; i < raw.size(); ++i) {
    if (raw[i] == '+') {
      value.push_back(' ');
    } else if (raw[i] == '%' && i + 2 < raw.size() &&
               HexValue(raw[i + 1]) >= 0 && HexValue(raw[i + 2]) >= 0) {
      value.push_back(
          static_cast<char>(HexValue(raw[i + 1]) * 16 + HexValue(raw[i + 2])));
      i += 2;
    } else {
      value.push_back(raw[i]);
    }
  }
  return value;
}

// The bytes of lowercase or uppercase hex; "" when `hex` is not hex.
std::string HexDecode(std::string_view hex) {
  std::string out;
  if (hex.size() % 2 != 0) return out;
  for (std::size_t i = 0; i < hex.size(); i += 2) {
    const int hi = HexValue(hex[i]);
    const int lo = HexValue(hex[i + 1]);
    if (hi < 0 || lo < 0) return "";
    out.push_back(static_cast<char>(hi * 16 + lo));
  }
  return out;
}

// What may appear in a return path: unreserved characters and '/', plus the
// query's '=', '&', '%' and '+'.
bool ReturnPathChar(char c, bool in_query) {
  if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
      (c >= '0' && c <= '9')) {
    return true;
  }
  switch (c) {
    case '-':
    case '.':
    case '_':
    case '~':
    case '/': return true;
    case '=':
    case '&':
    case '%':
    case '+': return in_query;
    default: return false;
  }
}

// An OAuth error code (RFC 6749 §4.1.2.1: %x20-21 / %x23-5B / %x5D-7E) that
// is safe to show and audit; anything else is replaced, since the callback's
// query is written by whoever sent the browser there.
std::string SafeErrorCode(std::string_view code) {
  if (code.empty() || code.size() > 64) return "(unreadable)";
  for (char c : code) {
    const bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
                    (c >= '0' && c <= '9') || c == '_' || c == '-' || c == '.';
    if (!ok) return "(unreadable)";
  }
  return std::string(code);
}

// The client secret file's first line (a trailing newline is not part of it).
std::optional<std::string> ReadSecret(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return std::nullopt;
  std::ostringstream text;
  text << in.rdbuf();
  std::string secret = text.str();
  while (!secret.empty() && (secret.back() == '\n' || secret.back() == '\r')) {
    secret.pop_back();
  }
  if (secret.empty()) return std::nullopt;
  return secret;
}

const OidcIssuerConfig* ProviderNamed(
    const std::vector<OidcIssuerConfig>& providers, std::string_view name) {
  for (const OidcIssuerConfig& p : providers) {
    if (p.name == name) return &p;
  }
  return nullptr;
}

}  // namespace

std::vector<OidcIssuerConfig> SignInProviders(const IdentityConfig& identity) {
  std::vector<OidcIssuerConfig> out;
  for (const OidcIssuerConfig& o : identity.oidc) {
    if (!o.client_id.empty()) out.push_back(o);
  }
  return out;
}

std::optional<std::string> SafeReturnPath(std::string_view path) {
  constexpr std::size_t kMaxReturnPath = 512;
  if (path.size() > kMaxReturnPath || !path.starts_with("/ui/")) {
    return std::nullopt;
  }
  const std::size_t q = path.find('?');
  const std::string_view page = path.substr(0, q);
  const std::string_view query =
      q == std::string_view::npos ? "" : path.substr(q + 1);
  for (char c : page) {
    if (!ReturnPathChar(c, false)) return std::nullopt;
  }
  for (char c : query) {
    if (!ReturnPathChar(c, true)) return std::nullopt;
  }
  // No empty, "." or ".." segment: the browser would resolve it away from
  // /ui/ (and "//" could read as another host).
  std::string_view rest = page.substr(1);
  while (!rest.empty()) {
    const std::size_t slash = rest.find('/');
    const std::string_view segment = rest.substr(0, slash);
    if (segment == "." || segment == ".." ||
        (segment.empty() && slash != std::string_view::npos)) {
      return std::nullopt;
    }
    rest = slash == std::string_view::npos ? "" : rest.substr(slash + 1);
  }
  return std::string(path);
}

std::string FormEncode(std::string_view value) {
  static constexpr char kHex[] = "0123456789ABCDEF";
  std::string out;
  for (unsigned char c : value) {
    if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
        (c >= '0' && c <= '9') || c == '-' || c == '.' || c == '_' ||
        c == '~') {
      out.push_back(static_cast<char>(c));
    } else {
      out += {'%', kHex[c >> 4], kHex[c & 15]};
    }
  }
  return out;
}

std::optional<std::string> QueryParam(std::string_view target,
                                      std::string_view name) {
  const std::size_t q = target.find('?');
  if (q == std::string_view::npos) return std::nullopt;
  std::string_view rest = target.substr(q + 1);
  std::optional<std::string> found;
  while (!rest.empty()) {
    const std::size_t amp = rest.find('&');
    const std::string_view pair = rest.substr(0, amp);
    rest = amp == std::string_view::npos ? "" : rest.substr(amp + 1);
    const std::size_t eq = pair.find('=');
    if (pair.substr(0, eq) != name) continue;
    if (found) return std::nullopt;  // twice: refused rather than guessed at
    const std::string_view raw =
        eq == std::string_view::npos ? "" : pair.substr(eq + 1);
    found = FormDecode(raw);
  }
  return found;
}

ProviderSignIn::ProviderSignIn(SessionStore& store, Clock clock,
                               std::chrono::milliseconds provider_timeout)
    : store_(store),
      clock_(clock ? std::move(clock)
                   : [] { return std::chrono::system_clock::now(); }),
      timeout_(provider_timeout) {}

std::int64_t ProviderSignIn::NowUs() const {
  return std::chrono::duration_cast<std::chrono::microseconds>(
             clock_().time_since_epoch())
      .count();
}

std::string ProviderSignIn::ClearCookie() {
  return std::string(kLoginCookie) +
         "=; Path=/; Max-Age=0; Secure; HttpOnly; SameSite=Lax";
}

ProviderSignIn::Started ProviderSignIn::Start(const OidcIssuerConfig& provider,
                                              const std::string& return_path) {
  Started out;
  const ProviderEndpoints endpoints =
      DiscoverEndpoints(provider.issuer, provider.ca_file, timeout_);
  if (!endpoints.error.empty()) {
    out.failure = Failure::kProviderUnavailable;
    out.detail = "the identity provider \"" + provider.name +
                 "\" cannot be asked: " + endpoints.error;
    return out;
  }
  const std::string state = Base64UrlEncode(RandomBytes(kRandomBytes));
  // The login cookie: random hex, then "." and the return path in hex (no
  // '%': cpp-httplib percent-decodes header values); the flow keeps the
  // hash of the whole value.
  std::string browser = HexEncode(RandomBytes(kRandomBytes));
  if (SafeReturnPath(return_path)) {
    browser += '.';
    browser += HexEncode(return_path);
  }
  LoginFlow flow;
  flow.provider = provider.name;
  flow.browser_sha256 = Sha256Hex(browser);
  flow.nonce = Base64UrlEncode(RandomBytes(kRandomBytes));
  flow.code_verifier = Base64UrlEncode(RandomBytes(kRandomBytes));
  flow.created_us = NowUs();
  const std::int64_t lifetime_us =
      std::chrono::duration_cast<std::chrono::microseconds>(kFlowLifetime)
          .count();
  store_.InsertLoginFlow(Sha256Hex(state), flow, flow.created_us - lifetime_us,
                         kMaxLoginFlows);

  const std::string challenge = Base64UrlEncode(Sha256Raw(flow.code_verifier));
  const std::string& base = endpoints.authorization_endpoint;
  out.location = base + (base.find('?') == std::string::npos ? "?" : "&") +
                 "response_type=code&scope=openid%20email&client_id=" +
                 FormEncode(provider.client_id) +
                 "&redirect_uri=" + FormEncode(provider.redirect_url) +
                 "&state=" + state + "&nonce=" + flow.nonce +
                 "&code_challenge=" + challenge + "&code_challenge_method=S256";
  // SameSite=Lax: the provider sends the browser back with a top-level
  // cross-site navigation, which a Strict cookie would not come with.
  out.set_cookie =
      std::string(kLoginCookie) + "=" + browser + "; Path=/; Max-Age=" +
      std::to_string(
          std::chrono::duration_cast<std::chrono::seconds>(kFlowLifetime)
              .count()) +
      "; Secure; HttpOnly; SameSite=Lax";
  return out;
}

ProviderSignIn::Finished ProviderSignIn::Finish(
    const HttpRequest& request, const std::vector<OidcIssuerConfig>& providers,
    const IdentityVerifier* verifier) {
  const std::optional<std::string> state = QueryParam(request.target, "state");
  if (!state || state->empty()) {
    return Refuse(Failure::kBadRequest,
                  "the provider's answer carries no (single) state");
  }
  // Taken before anything else is checked: a state is good for one try.
  const std::optional<LoginFlow> flow = store_.TakeLoginFlow(Sha256Hex(*state));
  if (!flow) {
    return Refuse(Failure::kRefused,
                  "the sign-in's state is unknown or was already used; "
                  "start again from the console");
  }
  const std::string& name = flow->provider;
  const std::int64_t age_us = NowUs() - flow->created_us;
  if (age_us < 0 ||
      age_us >
          std::chrono::duration_cast<std::chrono::microseconds>(kFlowLifetime)
              .count()) {
    return Refuse(Failure::kRefused,
                  "the sign-in took longer than 10 minutes; start again", name);
  }
  const std::vector<std::string_view> browser =
      CookieValues(request.cookie, kLoginCookie);
  if (browser.size() != 1 ||
      !ConstantTimeEquals(Sha256Hex(browser.front()), flow->browser_sha256)) {
    return Refuse(Failure::kRefused,
                  "the sign-in was started in another browser (its login "
                  "cookie is missing or different)",
                  name);
  }
  if (const std::optional<std::string> error =
          QueryParam(request.target, "error")) {
    return Refuse(
        Failure::kRefused,
        "the identity provider refused the sign-in: " + SafeErrorCode(*error),
        name);
  }
  const std::optional<std::string> code = QueryParam(request.target, "code");
  if (!code || code->empty()) {
    return Refuse(Failure::kBadRequest,
                  "the provider's answer carries no (single) code", name);
  }
  const OidcIssuerConfig* provider = ProviderNamed(providers, name);
  if (provider == nullptr || verifier == nullptr) {
    return Refuse(Failure::kRefused,
                  "the identity provider \"" + name +
                      "\" is no longer configured for the console",
                  name);
  }
  const std::optional<std::string> secret =
      ReadSecret(provider->client_secret_file);
  if (!secret) {
    return Refuse(Failure::kProviderUnavailable,
                  "the client secret file of identity provider \"" + name +
                      "\" cannot be read",
                  name);
  }
  const ProviderEndpoints endpoints =
      DiscoverEndpoints(provider->issuer, provider->ca_file, timeout_);
  if (!endpoints.error.empty()) {
    return Refuse(Failure::kProviderUnavailable,
                  "the identity provider \"" + name +
                      "\" cannot be asked: " + endpoints.error,
                  name);
  }
  ProviderCall exchange;
  exchange.url = endpoints.token_endpoint;
  exchange.ca_file = provider->ca_file;
  exchange.timeout = timeout_;
  exchange.post = true;
  exchange.form = "grant_type=authorization_code&code=" + FormEncode(*code) +
                  "&redirect_uri=" + FormEncode(provider->redirect_url) +
                  "&code_verifier=" + flow->code_verifier;
  exchange.basic_user = FormEncode(provider->client_id);
  exchange.basic_password = FormEncode(*secret);
  const ProviderAnswer answer = CallProvider(exchange);
  if (!answer.error.empty()) {
    return Refuse(Failure::kProviderUnavailable,
                  "the token endpoint of identity provider \"" + name +
                      "\" did not answer: " + answer.error,
                  name);
  }
  const nlohmann::json body =
      nlohmann::json::parse(answer.body, nullptr, false);
  if (answer.status != 200) {
    std::string why = "HTTP " + std::to_string(answer.status);
    if (body.is_object() && body.contains("error") &&
        body["error"].is_string()) {
      why += " " + SafeErrorCode(body["error"].get<std::string>());
    }
    return Refuse(Failure::kRefused,
                  "the token endpoint of identity provider \"" + name +
                      "\" refused the code (" + why + ")",
                  name);
  }
  if (!body.is_object() || !body.contains("id_token") ||
      !body["id_token"].is_string()) {
    return Refuse(Failure::kProviderUnavailable,
                  "the token endpoint of identity provider \"" + name +
                      "\" answered without an ID token",
                  name);
  }
  std::string nonce;
  JwtVerification verified = verifier->VerifyIdToken(
      body["id_token"].get<std::string>(), provider->issuer,
      provider->client_id, clock_(), nonce);
  if (!verified.ok) {
    Finished refused = Refuse(Failure::kRefused,
                              "the ID token failed the check: " +
                                  std::string(JwtCheckName(verified.failure)),
                              name);
    refused.metric_result = JwtCheckName(verified.failure);
    return refused;
  }
  if (!ConstantTimeEquals(nonce, flow->nonce)) {
    return Refuse(Failure::kRefused,
                  "the ID token failed the check: nonce (not this sign-in's)",
                  name);
  }
  Finished out;
  out.provider = name;
  if (const std::size_t dot = browser.front().find('.');
      dot != std::string_view::npos) {
    out.return_path = SafeReturnPath(HexDecode(browser.front().substr(dot + 1)))
                          .value_or("/ui/");
  }
  Principal& p = out.principal.emplace();
  p.name = std::move(verified.ok->name);
  p.groups = std::move(verified.ok->groups);
  p.auth_method = "oidc";
  p.audit_detail = "iss=" + verified.ok->issuer;
  if (!verified.ok->jti.empty()) p.audit_detail += "; jti=" + verified.ok->jti;
  return out;
}

}  // namespace agni
