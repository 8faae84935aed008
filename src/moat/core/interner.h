// Interns strings (account ids, fingerprints, ...) to dense uint32 ids so that
// hot maps are keyed by integers. Ids are assigned in first-seen order.
#pragma once

#include <cstdint>
#include <deque>
#include <string>
#include <string_view>

#include <boost/unordered/unordered_flat_map.hpp>

namespace moat {

class Interner {
 public:
  uint32_t Intern(std::string_view s);
  // Returns kNone when `s` was never interned.
  uint32_t Find(std::string_view s) const;
  std::string_view Name(uint32_t id) const { return names_[id]; }
  size_t size() const { return names_.size(); }
  static constexpr uint32_t kNone = UINT32_MAX;

 private:
  std::deque<std::string> names_;  // deque: stable addresses for the views below
  boost::unordered_flat_map<std::string_view, uint32_t> ids_;
};

}  // namespace moat
