#include "moat/link/linker.h"

#include <algorithm>
#include <numeric>

namespace moat::link {
namespace {

uint64_t GroupKey(int kind, uint32_t value) { return (uint64_t(kind) << 32) | value; }

struct UnionFind {
  std::vector<uint32_t> parent;
  explicit UnionFind(size_t n) : parent(n) { std::iota(parent.begin(), parent.end(), 0u); }
  uint32_t Find(uint32_t x) {
    while (parent[x] != x) x = parent[x] = parent[parent[x]];
    return x;
  }
  void Union(uint32_t a, uint32_t b) {
    a = Find(a);
    b = Find(b);
    if (a != b) parent[std::max(a, b)] = std::min(a, b);
  }
};

}  // namespace

void Linker::CountAccount(LinkKind kind, uint32_t value) {
  auto& v = accounts_per_value_[static_cast<int>(kind)];
  if (value >= v.size()) v.resize(std::max<size_t>(value + 1, v.size() * 2), 0);
  ++v[value];
}

uint32_t Linker::AccountsWith(LinkKind kind, uint32_t value) const {
  const auto& v = accounts_per_value_[static_cast<int>(kind)];
  return value < v.size() ? v[value] : 0;
}

size_t Linker::MemoryBytes() const {
  size_t b = 0;
  for (const auto& v : accounts_per_value_) b += v.capacity() * sizeof(uint32_t);
  return b;
}

LinkResult Linker::Link(std::span<const Candidate> candidates) const {
  LinkResult result;
  const size_t n = candidates.size();
  if (n < 2) return result;

  // How many candidates hold each value.
  boost::unordered_flat_map<uint64_t, uint32_t> cand_count;
  for (const Candidate& c : candidates)
    for (int k = 0; k < kLinkKinds; ++k) {
      const auto& slots = c.state->attrs[k];
      for (int i = 0; i < slots.size; ++i) ++cand_count[GroupKey(k, slots.ids[i])];
    }

  // A value's strength: its kind's weight times the share of its accounts
  // that are candidates. A webmail domain or carrier NAT used by thousands
  // of ordinary accounts is nearly worthless even if a few candidates share it.
  auto strength = [&](int k, uint32_t value, uint32_t in_candidates) {
    const uint32_t all = std::max(AccountsWith(static_cast<LinkKind>(k), value), in_candidates);
    return cfg_.kind_weight[k] * double(in_candidates) / double(all);
  };

  UnionFind uf(n);
  boost::unordered_flat_map<uint64_t, uint32_t> first_holder;   // strong value -> candidate index
  boost::unordered_flat_map<uint64_t, uint32_t> pair_holder;     // (value, value) -> candidate index
  boost::unordered_flat_map<uint64_t, uint8_t> used;             // values that made an edge
  struct Weak { uint64_t key; double s; };
  std::vector<Weak> weak;
  for (uint32_t ci = 0; ci < n; ++ci) {
    const auto* st = candidates[ci].state;
    weak.clear();
    for (int k = 0; k < kLinkKinds; ++k) {
      const auto& slots = st->attrs[k];
      for (int i = 0; i < slots.size; ++i) {
        const uint64_t key = GroupKey(k, slots.ids[i]);
        const uint32_t cc = cand_count[key];
        if (cc < 2) continue;
        const double s = strength(k, slots.ids[i], cc);
        if (s >= cfg_.min_edge) {
          auto [it, inserted] = first_holder.try_emplace(key, ci);
          if (!inserted) {
            uf.Union(it->second, ci);
            used[key] = 1;
          }
        } else if (s > 0) {
          weak.push_back({key, s});
        }
      }
    }
    // Two weak values shared together (same subnet AND same uncommon domain)
    // make an edge that neither makes alone.
    for (size_t a = 0; a < weak.size(); ++a)
      for (size_t b = a + 1; b < weak.size(); ++b) {
        if (weak[a].s + weak[b].s < cfg_.min_edge) continue;
        const uint64_t ka = std::min(weak[a].key, weak[b].key);
        const uint64_t kb = std::max(weak[a].key, weak[b].key);
        const uint64_t pair = ka * 0x9e3779b97f4a7c15ULL ^ (kb + 0x632be59bd9b4e019ULL + (ka << 6));
        auto [it, inserted] = pair_holder.try_emplace(pair, ci);
        if (!inserted) {
          uf.Union(it->second, ci);
          used[ka] = 1;
          used[kb] = 1;
        }
      }
  }

  // Collect components of size >= 2.
  std::vector<int32_t> comp_of_root(n, -1);
  std::vector<uint32_t> size(n, 0);
  for (uint32_t ci = 0; ci < n; ++ci) ++size[uf.Find(ci)];
  std::vector<int32_t> comp_of(n, -1);
  for (uint32_t ci = 0; ci < n; ++ci) {
    const uint32_t r = uf.Find(ci);
    if (size[r] < 2) continue;
    if (comp_of_root[r] < 0) {
      comp_of_root[r] = static_cast<int32_t>(result.components.size());
      result.components.emplace_back();
    }
    comp_of[ci] = comp_of_root[r];
    result.components[comp_of_root[r]].members.push_back(candidates[ci].account);
  }

  // Evidence: per component and kind, distinct linking values and members
  // holding one.
  boost::unordered_flat_map<uint64_t, int32_t> value_comp;  // (kind,value) -> component counted
  for (uint32_t ci = 0; ci < n; ++ci) {
    if (comp_of[ci] < 0) continue;
    Component& comp = result.components[comp_of[ci]];
    const auto* st = candidates[ci].state;
    for (int k = 0; k < kLinkKinds; ++k) {
      bool holds = false;
      const auto& slots = st->attrs[k];
      for (int i = 0; i < slots.size; ++i) {
        const uint64_t key = GroupKey(k, slots.ids[i]);
        if (!used.contains(key)) continue;
        holds = true;
        auto [it, inserted] = value_comp.try_emplace(key, comp_of[ci]);
        if (inserted) ++comp.evidence[k].values;
      }
      comp.evidence[k].accounts += holds;
    }
  }
  for (Component& c : result.components) std::sort(c.members.begin(), c.members.end());
  return result;
}

}  // namespace moat::link
