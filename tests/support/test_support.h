// Everything the in-process tests share, in one include: a temp folder, the
// config builder and test users, the fake upstream, readers of metrics and
// audit rows. The in-process gateway is tests/support/harness.h; the real
// binary is started by tests/support/process.h.
#pragma once

#include "tests/support/config_builder.h"
#include "tests/support/fake_upstream.h"
#include "tests/support/helpers.h"
#include "tests/support/temp_dir.h"
