#include "moat/link/linker.h"

#include <algorithm>
#include <numeric>

namespace moat::link {
namespace {

uint64_t GroupKey(int kind, uint32_t value) { return (uint64_t(kind) << 32) | value; }
uint64_t PairKey(uint32_t a, uint32_t b) { return a < b ? (uint64_t(a) << 32) | b : (uint64_t(b) << 32) | a; }

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

  // Holder lists of every value among the candidates (candidate indexes).
  boost::unordered_flat_map<uint64_t, std::vector<uint32_t>> holders;
  for (uint32_t ci = 0; ci < n; ++ci) {
    const auto* st = candidates[ci].state;
    for (int k = 0; k < kLinkKinds; ++k) {
      const auto& slots = st->attrs[k];
      for (int i = 0; i < slots.size; ++i) holders[GroupKey(k, slots.ids[i])].push_back(ci);
    }
  }

  // A value's strength: its kind's weight times the share of its accounts
  // that are candidates. A webmail domain or carrier NAT used by thousands
  // of ordinary accounts is nearly worthless even if a few candidates share it.
  // Pair weight: the sum over the values a pair shares.
  struct PairSum {
    float w = 0;       // sum of shared values' strengths
    float single = 0;  // strongest single shared value
  };
  boost::unordered_flat_map<uint64_t, PairSum> pair_weight;
  boost::unordered_flat_map<uint64_t, double> value_strength;
  for (const auto& [key, list] : holders) {
    if (list.size() < 2) continue;
    const int k = static_cast<int>(key >> 32);
    const uint32_t value = static_cast<uint32_t>(key);
    const uint32_t in_cand = static_cast<uint32_t>(list.size());
    const uint32_t all = std::max(AccountsWith(static_cast<LinkKind>(k), value), in_cand);
    const double s = cfg_.kind_weight[k] * double(in_cand) / double(all);
    if (s <= 0.05 * cfg_.min_edge) continue;  // too common to matter in any sum
    value_strength[key] = s;
    // Small values pair every two holders. A value with more holders pairs
    // each with the next window_pairs holders in candidate order (lists are
    // built in that one order), so values shared by one big group still add
    // up on the same pairs while the cost stays linear in holders.
    const size_t window = list.size() > cfg_.max_pair_holders ? cfg_.window_pairs : list.size();
    for (size_t a = 0; a < list.size(); ++a)
      for (size_t b = a + 1; b < list.size() && b <= a + window; ++b) {
        PairSum& p = pair_weight[PairKey(list[a], list[b])];
        p.w += static_cast<float>(s);
        p.single = std::max(p.single, static_cast<float>(s));
      }
  }

  // Edges, then the dense core: repeatedly drop accounts held by a single
  // ordinary edge so a bystander who shares one value with a campaign member
  // does not join it. An account that shares one strong value on its own (a
  // payment instrument nobody else uses) is exempt: that is not a bystander.
  struct Edge { uint32_t a, b; float w, single; };
  std::vector<Edge> edges;
  for (const auto& [pk, p] : pair_weight)
    if (p.w >= cfg_.min_edge)
      edges.push_back({static_cast<uint32_t>(pk >> 32), static_cast<uint32_t>(pk), p.w, p.single});
  std::sort(edges.begin(), edges.end(), [](const Edge& x, const Edge& y) {
    return x.a != y.a ? x.a < y.a : x.b < y.b;  // deterministic order
  });
  std::vector<uint32_t> degree(n, 0);
  std::vector<float> best(n, 0.f);
  for (const Edge& e : edges) {
    ++degree[e.a];
    ++degree[e.b];
    best[e.a] = std::max(best[e.a], e.single);
    best[e.b] = std::max(best[e.b], e.single);
  }
  std::vector<uint8_t> alive(n, 1);
  std::vector<std::vector<uint32_t>> adj(n);
  for (uint32_t i = 0; i < edges.size(); ++i) {
    adj[edges[i].a].push_back(i);
    adj[edges[i].b].push_back(i);
  }
  // Components of two (a mutual pair) are kept; peeling applies only to
  // accounts whose neighbours are themselves linked to others.
  std::vector<uint32_t> stack;
  auto weak = [&](uint32_t v) {
    return alive[v] && degree[v] < cfg_.min_core_degree && best[v] < cfg_.strong_edge && degree[v] > 0;
  };
  for (uint32_t v = 0; v < n; ++v)
    if (weak(v)) stack.push_back(v);
  while (!stack.empty()) {
    const uint32_t v = stack.back();
    stack.pop_back();
    if (!weak(v)) continue;
    // Keep an isolated pair: v's only neighbour has no other neighbour.
    const Edge& only = edges[adj[v][0]];
    uint32_t u = only.a == v ? only.b : only.a;
    for (uint32_t ei : adj[v]) {
      const Edge& e = edges[ei];
      const uint32_t w = e.a == v ? e.b : e.a;
      if (alive[w]) u = w;
    }
    if (degree[u] <= 1) continue;
    alive[v] = 0;
    for (uint32_t ei : adj[v]) {
      const Edge& e = edges[ei];
      const uint32_t w = e.a == v ? e.b : e.a;
      if (!alive[w]) continue;
      --degree[w];
      if (weak(w)) stack.push_back(w);
    }
    degree[v] = 0;
  }

  // Second peel, relative to the group's size: degree >= min_core_share of
  // the group found by the first peel (strong edges still exempt).
  {
    UnionFind first(n);
    for (const Edge& e : edges)
      if (alive[e.a] && alive[e.b]) first.Union(e.a, e.b);
    std::vector<uint32_t> group(n, 0);
    for (uint32_t v = 0; v < n; ++v)
      if (alive[v] && degree[v] > 0) ++group[first.Find(v)];
    std::vector<uint32_t> need(n, 0);
    for (uint32_t v = 0; v < n; ++v)
      need[v] = std::min(static_cast<uint32_t>(cfg_.min_core_share * double(group[first.Find(v)])),
                         cfg_.window_pairs / 2);
    auto loose = [&](uint32_t v) {
      return alive[v] && degree[v] > 0 && degree[v] < need[v] && best[v] < cfg_.strong_edge;
    };
    for (uint32_t v = 0; v < n; ++v)
      if (loose(v)) stack.push_back(v);
    while (!stack.empty()) {
      const uint32_t v = stack.back();
      stack.pop_back();
      if (!loose(v)) continue;
      alive[v] = 0;
      for (uint32_t ei : adj[v]) {
        const Edge& e = edges[ei];
        const uint32_t w = e.a == v ? e.b : e.a;
        if (!alive[w]) continue;
        --degree[w];
        if (loose(w)) stack.push_back(w);
      }
      degree[v] = 0;
    }
  }

  UnionFind uf(n);
  boost::unordered_flat_map<uint64_t, uint8_t> used;  // values shared along a kept edge
  std::vector<uint32_t> edge_count(n, 0);
  for (const Edge& e : edges) {
    if (!alive[e.a] || !alive[e.b]) continue;
    uf.Union(e.a, e.b);
    ++edge_count[e.a];
  }
  for (const auto& [key, s] : value_strength) {
    const auto& list = holders.at(key);
    uint32_t kept = 0;
    for (uint32_t ci : list) kept += alive[ci] && degree[ci] > 0;
    if (kept >= 2) used[key] = 1;
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
    Component& comp = result.components[comp_of_root[r]];
    comp.members.push_back(candidates[ci].account);
    comp.edges += edge_count[ci];
    if (candidates[ci].state->n_org > 0) ++comp.org_members;
  }

  // Evidence: per component and kind, distinct linking values and members
  // holding one; distinct payment instruments over all members.
  boost::unordered_flat_map<uint64_t, int32_t> value_comp;  // (kind,value) -> component counted
  boost::unordered_flat_map<uint64_t, int32_t> payment_comp;
  for (uint32_t ci = 0; ci < n; ++ci) {
    if (comp_of[ci] < 0) continue;
    Component& comp = result.components[comp_of[ci]];
    const auto* st = candidates[ci].state;
    for (int k = 0; k < kLinkKinds; ++k) {
      bool holds = false;
      const auto& slots = st->attrs[k];
      for (int i = 0; i < slots.size; ++i) {
        const uint64_t key = GroupKey(k, slots.ids[i]);
        if (k == static_cast<int>(LinkKind::kPayment) && payment_comp.try_emplace(key, comp_of[ci]).second)
          ++comp.payment_values;
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
