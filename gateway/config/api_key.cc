// The upstream API key from the environment (gateway/config/config.h).
#include <fstream>
#include <sstream>

#include "gateway/config/config.h"

namespace agni {

ApiKeyLoad LoadApiKey(const char* key_env, const char* key_file_env) {
  const bool has_key = key_env != nullptr && *key_env != '\0';
  const bool has_file = key_file_env != nullptr && *key_file_env != '\0';
  if (has_key && has_file) {
    return {"",
            "both AGNI_API_KEY and AGNI_API_KEY_FILE are set; set exactly one"};
  }
  if (!has_key && !has_file) {
    return {"",
            "no upstream API key: set AGNI_API_KEY, or AGNI_API_KEY_FILE to a "
            "file that holds it"};
  }
  std::string key;
  if (has_key) {
    key = key_env;
  } else {
    std::ifstream in(key_file_env, std::ios::binary);
    if (!in) {
      // The value is not quoted: operators sometimes put the key itself here.
      return {"", "AGNI_API_KEY_FILE does not name a readable file"};
    }
    std::stringstream buf;
    buf << in.rdbuf();
    key = buf.str();
    while (!key.empty() && (key.back() == '\n' || key.back() == '\r')) {
      key.pop_back();
    }
  }
  if (key.empty()) return {"", "the upstream API key is empty"};
  for (unsigned char c : key) {
    if (c < 0x21 || c > 0x7e) {
      return {"",
              "the upstream API key contains whitespace or control characters "
              "(it would be unsafe in a header)"};
    }
  }
  return {key, ""};
}

}  // namespace agni
