// E.164 phone numbers as the whole project spells them: '+', a first digit
// 1-9, then 1 to 14 ASCII digits. Pure; includes nothing of the project.
#pragma once

#include <string_view>

namespace agni {

// True when `number` is E.164: '+', a first digit 1-9, then 1 to 14 ASCII
// digits.
bool IsE164(std::string_view number);

}  // namespace agni
