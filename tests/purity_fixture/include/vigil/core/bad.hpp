// Fixture for the core_purity_detects_violation test: a core header that is not pure.
#pragma once
#include <thread>
