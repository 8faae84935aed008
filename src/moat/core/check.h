// Broken invariants abort with file and line. MOAT_CHECK is always on;
// MOAT_DCHECK only in debug builds.
#pragma once

#include <cstdio>
#include <cstdlib>

#define MOAT_CHECK(cond)                                                          \
  do {                                                                            \
    if (!(cond)) [[unlikely]] {                                                   \
      std::fprintf(stderr, "%s:%d: check failed: %s\n", __FILE__, __LINE__, #cond); \
      std::abort();                                                               \
    }                                                                             \
  } while (0)

#ifdef NDEBUG
#define MOAT_DCHECK(cond) \
  do {                    \
  } while (0)
#else
#define MOAT_DCHECK(cond) MOAT_CHECK(cond)
#endif
