#include "base/e164.h"

namespace agni {

bool IsE164(std::string_view number) {
  if (number.size() < 3 || number.size() > 16) return false;
  if (number[0] != '+') return false;
  if (number[1] < '1' || number[1] > '9') return false;
  for (std::size_t i = 2; i < number.size(); ++i) {
    if (number[i] < '0' || number[i] > '9') return false;
  }
  return true;
}

}  // namespace agni
