// `agni-gateway token new`: a fresh token for a user, printed once.
#pragma once

#include <string>
#include <vector>

namespace agni {

// Prints a new random token and the "users" entry that holds only its
// SHA-256 (one JSON line with `as_json`). Exit 2 on a bad user or group name.
int TokenNew(const std::string& user, const std::vector<std::string>& groups,
             bool as_json);

}  // namespace agni
