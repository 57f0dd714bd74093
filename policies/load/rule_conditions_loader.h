// Parsing of the selectors and conditions added to rules after the core
// (labels, when, source_cidrs) and of the policy-level limits, for
// ParsePolicy. Each records every problem with its JSON path.
#pragma once

#include <nlohmann/json.hpp>

#include "policies/engine.h"
#include "policies/load/json_reader.h"

namespace agni::policy {

// Reads "labels", "when" and "source_cidrs" of one rule into `rule`.
void ReadRuleConditions(ObjectReader& r, Rule& rule);

// Reads the policy's "limits" array and "deny_unlisted_numbers" flag.
void ReadPolicyLimits(ObjectReader& top, Policy& policy);

}  // namespace agni::policy
