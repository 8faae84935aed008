#include "moat/link/linker.h"

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <numeric>

#include "moat/core/check.h"

namespace moat::link {
namespace {

// Strengths are fixed-point integers so that a pair's weight is an exact sum,
// the same whatever order the updates arrive in (determinism without sorting).
constexpr double kScale = 4096.0;

int32_t ToFixed(double x) { return static_cast<int32_t>(std::lround(x * kScale)); }

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

void EraseValue(std::vector<uint32_t>& v, uint32_t x) {
  for (size_t i = 0; i < v.size(); ++i) {
    if (v[i] == x) {
      v[i] = v.back();
      v.pop_back();
      return;
    }
  }
}

}  // namespace

Linker::Linker(LinkConfig cfg)
    : cfg_(cfg),
      min_edge_q_(ToFixed(cfg.min_edge)),
      strong_q_(ToFixed(cfg.strong_edge)) {
  // A value counts once its candidate holders are more than a few percent
  // of its users (5% of min_edge for a full-strength kind), or half for the
  // weak per-slot kinds whose strength is a fraction of one signal: a
  // wake-up time or prompt most of whose holders are ordinary accounts says
  // nothing, and at a quarter their pairs cost a fifth of the scan time and
  // linked one light-chat account into the evasive-blend campaign (seed 2).
  for (int k = 0; k < kLinkKinds; ++k)
    floor_q_[k] = ToFixed(std::min(0.05 * cfg.min_edge, 0.5 * cfg.kind_weight[k]));
}

void Linker::CountAccount(LinkKind kind, uint32_t value) {
  auto& v = accounts_per_value_[static_cast<int>(kind)];
  if (value >= v.size()) v.resize(std::max<size_t>(value + 1, v.size() * 2), 0);
  ++v[value];
  // Its rarity moved: re-weigh it at the next link run if candidates hold it.
  if (auto it = value_index_.find(GroupKey(static_cast<int>(kind), value)); it != value_index_.end())
    if (!values_[it->second].holders.empty()) MarkDirty(it->second);
}

void Linker::UncountAccount(LinkKind kind, uint32_t value) {
  auto& v = accounts_per_value_[static_cast<int>(kind)];
  MOAT_CHECK(value < v.size() && v[value] > 0);
  --v[value];
  if (auto it = value_index_.find(GroupKey(static_cast<int>(kind), value)); it != value_index_.end())
    if (!values_[it->second].holders.empty()) MarkDirty(it->second);
}

uint32_t Linker::AccountsWith(LinkKind kind, uint32_t value) const {
  const auto& v = accounts_per_value_[static_cast<int>(kind)];
  return value < v.size() ? v[value] : 0;
}

size_t Linker::MemoryBytes() const {
  size_t b = 0;
  for (const auto& v : accounts_per_value_) b += v.capacity() * sizeof(uint32_t);
  b += value_index_.size() * (sizeof(uint64_t) + sizeof(uint32_t));
  for (const ValueState& v : values_) b += sizeof(ValueState) + v.holders.capacity() * sizeof(uint32_t);
  for (const auto& [a, c] : cands_) b += sizeof(a) + sizeof(c) + c.values.capacity() * sizeof(uint32_t);
  b += pairs_.size() * (sizeof(uint64_t) + sizeof(PairSum));
  for (const auto& v : adj_) b += sizeof(v) + v.capacity() * sizeof(uint32_t);
  b += strong_links_.capacity() * sizeof(uint32_t);
  return b;
}

uint32_t Linker::ValueIndex(int kind, uint32_t value) {
  auto [it, inserted] = value_index_.try_emplace(GroupKey(kind, value), static_cast<uint32_t>(values_.size()));
  if (inserted) {
    values_.emplace_back();
    values_.back().kind = static_cast<uint8_t>(kind);
    values_.back().value = value;
  }
  return it->second;
}

void Linker::MarkDirty(uint32_t vi) {
  if (values_[vi].dirty) return;
  values_[vi].dirty = true;
  dirty_.push_back(vi);
}

// A value's strength: its kind's weight times the share of its accounts that
// are candidates. A webmail domain or carrier NAT used by thousands of
// ordinary accounts is nearly worthless even if a few candidates share it.
int32_t Linker::TargetStrength(const ValueState& v, uint32_t value) const {
  const auto in_cand = static_cast<uint32_t>(v.holders.size());
  if (in_cand == 0) return 0;
  const uint32_t all = std::max(AccountsWith(static_cast<LinkKind>(v.kind), value), in_cand);
  const int32_t q = ToFixed(cfg_.kind_weight[v.kind] * double(in_cand) / double(all));
  return q <= floor_q_[v.kind] ? 0 : q;
}

void Linker::EnsureAccount(uint32_t account) {
  if (account >= adj_.size()) {
    const size_t n = std::max<size_t>(account + 1, adj_.size() * 2);
    adj_.resize(n);
    strong_links_.resize(n, 0);
  }
}

void Linker::AddToPair(uint32_t a, uint32_t b, int32_t dw, int32_t dstrong) {
  ++stats_.pair_updates;
  auto [it, inserted] = pairs_.try_emplace(PairKey(a, b));
  PairSum& p = it->second;
  const bool was_edge = p.w >= min_edge_q_;
  const bool was_strong = was_edge && p.strong > 0;
  p.w += dw;
  p.strong += dstrong;
  const bool is_edge = p.w >= min_edge_q_;
  const bool is_strong = is_edge && p.strong > 0;
  if (was_edge != is_edge) {
    if (is_edge) {
      adj_[a].push_back(b);
      adj_[b].push_back(a);
      ++edges_;
    } else {
      EraseValue(adj_[a], b);
      EraseValue(adj_[b], a);
      --edges_;
    }
  }
  if (was_strong != is_strong) {
    const uint32_t d = is_strong ? 1u : static_cast<uint32_t>(-1);
    strong_links_[a] += d;
    strong_links_[b] += d;
  }
  if (p.w == 0 && p.strong == 0) pairs_.erase(it);
}

void Linker::ApplyToPairs(const ValueState& v, int32_t dq, int32_t ds) {
  const auto& h = v.holders;
  for (size_t i = 0; i < h.size(); ++i)
    for (size_t j = i + 1; j < h.size(); ++j) AddToPair(h[i], h[j], dq, ds);
}

void Linker::AddHolder(uint32_t vi, uint32_t account) {
  ++stats_.holder_adds;
  ValueState& v = values_[vi];
  if (!v.hub && v.holders.size() >= cfg_.hub_holders) {
    // Becomes a hub: its pair contributions come out once, for good.
    if (v.q != 0) ApplyToPairs(v, -v.q, v.q >= strong_q_ ? -1 : 0);
    v.hub = true;
    ++stats_.hubs;
    for (uint32_t h : v.holders) ++cands_.at(h).hubs;
  }
  if (v.hub) ++cands_.at(account).hubs;
  if (!v.hub && v.q != 0) {
    const int32_t s = v.q >= strong_q_ ? 1 : 0;
    for (uint32_t b : v.holders) AddToPair(account, b, v.q, s);
  }
  v.holders.push_back(account);
  MarkDirty(vi);
}

void Linker::RemoveHolder(uint32_t vi, uint32_t account) {
  ++stats_.holder_removes;
  ValueState& v = values_[vi];
  // Keep registration order (it orders adjacency, hence determinism).
  v.holders.erase(std::find(v.holders.begin(), v.holders.end(), account));
  if (v.hub) --cands_.at(account).hubs;
  if (!v.hub && v.q != 0) {
    const int32_t s = v.q >= strong_q_ ? 1 : 0;
    for (uint32_t b : v.holders) AddToPair(account, b, -v.q, -s);
  }
  MarkDirty(vi);
}

void Linker::SetStrength(uint32_t vi, int32_t q) {
  ValueState& v = values_[vi];
  if (q == v.q) return;
  ++stats_.strength_resets;
  if (!v.hub) ApplyToPairs(v, q - v.q, (q >= strong_q_ ? 1 : 0) - (v.q >= strong_q_ ? 1 : 0));
  v.q = q;
}

LinkResult Linker::Link(std::span<const Candidate> candidates) {
  std::vector<Candidate> now(candidates.begin(), candidates.end());
  std::sort(now.begin(), now.end(), [](const Candidate& x, const Candidate& y) { return x.account < y.account; });
  if (!now.empty()) EnsureAccount(now.back().account);

  // Departed candidates, in account order: their contributions come out.
  {
    std::vector<uint32_t> gone;
    for (const auto& [a, cs] : cands_)
      if (!std::binary_search(now.begin(), now.end(), Candidate{a, nullptr},
                              [](const Candidate& x, const Candidate& y) { return x.account < y.account; }))
        gone.push_back(a);
    std::sort(gone.begin(), gone.end());
    for (uint32_t a : gone) {
      for (uint32_t vi : cands_[a].values) RemoveHolder(vi, a);
      cands_.erase(a);
    }
  }
  // New candidates and values new to existing ones (attribute slots only
  // ever append, so the registered prefix is all that was seen).
  for (const Candidate& c : now) {
    CandState& cs = cands_[c.account];
    // Replaced kinds: when the account's slots were replaced since they were
    // registered, the old values come out and the current ones go in.
    if (cs.replaced_epoch != c.state->replaced_epoch) {
      cs.replaced_epoch = c.state->replaced_epoch;
      size_t keep = 0;
      for (uint32_t vi : cs.values) {
        if (features::IsReplaced(static_cast<LinkKind>(values_[vi].kind))) RemoveHolder(vi, c.account);
        else cs.values[keep++] = vi;
      }
      cs.values.resize(keep);
      for (int k = 0; k < kLinkKinds; ++k)
        if (features::IsReplaced(static_cast<LinkKind>(k))) cs.registered[k] = 0;
    }
    for (int k = 0; k < kLinkKinds; ++k) {
      const auto& slots = c.state->attrs[k];
      for (int i = cs.registered[k]; i < slots.size; ++i) {
        const uint32_t vi = ValueIndex(k, slots.ids[i]);
        AddHolder(vi, c.account);
        cs.values.push_back(vi);
      }
      cs.registered[k] = slots.size;
    }
  }
  // Re-weigh values whose holders or rarity moved: at most hub_holders^2 / 2
  // pair updates for a small value, none for a hub.
  std::vector<uint32_t> dirty;
  dirty.swap(dirty_);
  for (uint32_t vi : dirty) {
    ValueState& v = values_[vi];
    v.dirty = false;
    SetStrength(vi, TargetStrength(v, v.value));
  }
  stats_.pairs = pairs_.size();
  stats_.edges = edges_;
  return Components(now);
}

// Dense cores and connected components over the linked candidates: linear
// in the explicit pairs, the hub memberships and the linked edges. A hub's
// holders are never expanded into pairs here either: each set of hubs that
// links on its own is one clique, and degrees count clique members.
LinkResult Linker::Components(std::span<const Candidate> now) {
  LinkResult result;
  // Linked vertices: candidates with an explicit edge or a weighted hub; the
  // hubs of vertex i are hub_list[hub_begin[i] .. hub_begin[i + 1]), ascending.
  std::vector<const Candidate*> verts;
  std::vector<uint32_t> hub_begin;
  std::vector<uint32_t> hub_list;
  for (const Candidate& c : now) {
    const size_t before = hub_list.size();
    if (const CandState& cs = cands_.at(c.account); cs.hubs > 0)
      for (uint32_t vi : cs.values)
        if (values_[vi].hub && values_[vi].q > 0) hub_list.push_back(vi);
    if (hub_list.size() == before && adj_[c.account].empty()) continue;
    std::sort(hub_list.begin() + static_cast<ptrdiff_t>(before), hub_list.end());
    verts.push_back(&c);
    hub_begin.push_back(static_cast<uint32_t>(before));
  }
  hub_begin.push_back(static_cast<uint32_t>(hub_list.size()));
  stats_.hub_memberships = hub_list.size();
  const auto n = static_cast<uint32_t>(verts.size());
  if (n < 2) return result;
  auto hubs = [&](uint32_t v) {
    return std::span<const uint32_t>(hub_list.data() + hub_begin[v], hub_begin[v + 1] - hub_begin[v]);
  };
  boost::unordered_flat_map<uint32_t, uint32_t> local;
  local.reserve(n);
  for (uint32_t i = 0; i < n; ++i) local.emplace(verts[i]->account, i);

  // Explicit edges, then pairs below the line that the hubs both hold lift
  // over it (a small proxy subnet plus a campaign-wide template).
  std::vector<std::vector<uint32_t>> nb(n);
  std::vector<uint8_t> strong(n);
  for (uint32_t i = 0; i < n; ++i) {
    const auto& a = adj_[verts[i]->account];
    nb[i].reserve(a.size());
    for (uint32_t b : a) nb[i].push_back(local.at(b));
    strong[i] = strong_links_[verts[i]->account] > 0;
  }
  if (!hub_list.empty()) {
    // What a vertex's hubs could add at most: pairs that cannot reach the
    // line even with all of them are skipped without a lookup.
    std::vector<int32_t> hub_sum(adj_.size(), 0);
    for (uint32_t v = 0; v < n; ++v)
      for (uint32_t vi : hubs(v)) hub_sum[verts[v]->account] += values_[vi].q;
    for (const auto& [key, p] : pairs_) {
      if (p.w >= min_edge_q_) continue;
      const auto a = static_cast<uint32_t>(key >> 32), b = static_cast<uint32_t>(key);
      if (p.w + std::min(hub_sum[a], hub_sum[b]) < min_edge_q_) continue;
      const auto ia = local.find(a);
      const auto ib = local.find(b);
      if (ia == local.end() || ib == local.end()) continue;
      const auto x = hubs(ia->second), y = hubs(ib->second);
      int32_t w = p.w;
      for (size_t i = 0, j = 0; i < x.size() && j < y.size() && w < min_edge_q_;) {
        if (x[i] < y[j]) ++i;
        else if (y[j] < x[i]) ++j;
        else {
          w += values_[x[i]].q;
          ++i, ++j;
        }
      }
      if (w < min_edge_q_) continue;
      nb[ia->second].push_back(ib->second);
      nb[ib->second].push_back(ia->second);
    }
  }

  // Cliques: the minimal sets of hubs (up to three, from an account's
  // strongest) whose strengths reach min_edge, keyed by the set.
  struct SetHash {
    size_t operator()(const std::array<uint32_t, 3>& k) const {
      return boost::hash_value(k[0]) * 0x9E3779B97F4A7C15ull ^ (uint64_t(k[1]) << 21) ^ (uint64_t(k[2]) << 42);
    }
  };
  boost::unordered_flat_map<std::array<uint32_t, 3>, uint32_t, SetHash> clique_of_set;
  std::vector<std::vector<uint32_t>> clique_members;
  std::vector<uint8_t> clique_strong;
  std::vector<uint32_t> vert_cliques, vert_clique_begin;
  constexpr uint32_t kNoValue = UINT32_MAX;
  constexpr size_t kComboHubs = 8;
  std::vector<uint32_t> weak_hubs;
  for (uint32_t v = 0; v < n; ++v) {
    vert_clique_begin.push_back(static_cast<uint32_t>(vert_cliques.size()));
    auto join = [&](std::array<uint32_t, 3> set, bool is_strong) {
      auto [it, inserted] = clique_of_set.try_emplace(set, static_cast<uint32_t>(clique_members.size()));
      if (inserted) {
        clique_members.emplace_back();
        clique_strong.push_back(is_strong);
      }
      clique_members[it->second].push_back(v);
      vert_cliques.push_back(it->second);
    };
    weak_hubs.clear();
    for (uint32_t vi : hubs(v)) {
      const int32_t q = values_[vi].q;
      if (q >= min_edge_q_) join({vi, kNoValue, kNoValue}, q >= strong_q_);
      else weak_hubs.push_back(vi);
    }
    if (weak_hubs.size() > kComboHubs) {
      std::partial_sort(weak_hubs.begin(), weak_hubs.begin() + kComboHubs, weak_hubs.end(), [&](uint32_t x, uint32_t y) {
        return values_[x].q != values_[y].q ? values_[x].q > values_[y].q : x < y;
      });
      weak_hubs.resize(kComboHubs);
      std::sort(weak_hubs.begin(), weak_hubs.end());
    }
    const size_t m = weak_hubs.size();
    for (size_t i = 0; i < m; ++i) {
      const int32_t qi = values_[weak_hubs[i]].q;
      for (size_t j = i + 1; j < m; ++j) {
        const int32_t qj = values_[weak_hubs[j]].q;
        if (qi + qj >= min_edge_q_) {
          join({weak_hubs[i], weak_hubs[j], kNoValue}, false);
          continue;
        }
        for (size_t k = j + 1; k < m; ++k) {
          const int32_t qk = values_[weak_hubs[k]].q;
          if (qi + qj + qk >= min_edge_q_ && qi + qk < min_edge_q_ && qj + qk < min_edge_q_)
            join({weak_hubs[i], weak_hubs[j], weak_hubs[k]}, false);
        }
      }
    }
  }
  vert_clique_begin.push_back(static_cast<uint32_t>(vert_cliques.size()));
  auto cliques = [&](uint32_t v) {
    return std::span<const uint32_t>(vert_cliques.data() + vert_clique_begin[v],
                                     vert_clique_begin[v + 1] - vert_clique_begin[v]);
  };
  std::vector<uint32_t> clique_alive(clique_members.size());
  for (size_t c = 0; c < clique_members.size(); ++c) clique_alive[c] = static_cast<uint32_t>(clique_members[c].size());

  // Degree: distinct linked neighbours, as the peel rules mean it. A
  // neighbour met through several cliques and an explicit edge counts once.
  // Exact where counting is cheap; an account whose cliques hold thousands
  // gets the sum over its cliques, an upper bound far above any peel line.
  constexpr size_t kExactDegreeWork = 4096;
  std::vector<uint32_t> degree(n);
  std::vector<uint32_t> stamp(n, UINT32_MAX);
  for (uint32_t v = 0; v < n; ++v) {
    size_t work = nb[v].size();
    for (uint32_t c : cliques(v)) {
      work += clique_members[c].size();
      if (clique_strong[c] && clique_alive[c] >= 2) strong[v] = 1;
    }
    if (work > kExactDegreeWork) {
      degree[v] = static_cast<uint32_t>(nb[v].size());
      for (uint32_t c : cliques(v)) degree[v] += clique_alive[c] - 1;
      continue;
    }
    stamp[v] = v;
    for (uint32_t w : nb[v]) degree[v] += stamp[w] != v ? (stamp[w] = v, 1u) : 0u;
    for (uint32_t c : cliques(v))
      for (uint32_t w : clique_members[c]) degree[v] += stamp[w] != v ? (stamp[w] = v, 1u) : 0u;
  }

  // Removing v: each of its distinct neighbours loses one link and is
  // re-checked.
  std::vector<uint8_t> alive(n, 1);
  std::vector<uint32_t> stack;
  std::fill(stamp.begin(), stamp.end(), UINT32_MAX);
  auto remove = [&](uint32_t v, auto&& should_go) {
    alive[v] = 0;
    degree[v] = 0;
    auto lose = [&](uint32_t w) {
      if (!alive[w] || stamp[w] == v) return;
      stamp[w] = v;
      --degree[w];
      if (should_go(w)) stack.push_back(w);
    };
    for (uint32_t w : nb[v]) lose(w);
    for (uint32_t c : cliques(v)) {
      --clique_alive[c];
      for (uint32_t w : clique_members[c]) lose(w);
    }
  };
  auto only_neighbour = [&](uint32_t v) {
    for (uint32_t w : nb[v])
      if (alive[w]) return w;
    for (uint32_t c : cliques(v))
      for (uint32_t w : clique_members[c])
        if (w != v && alive[w]) return w;
    return v;
  };

  // Repeatedly drop accounts held by a single ordinary edge so a bystander
  // who shares one value with a campaign member does not join it. An account
  // that shares one strong value on its own (a payment instrument nobody else
  // uses) is exempt: that is not a bystander.
  auto weak = [&](uint32_t v) { return alive[v] && degree[v] < cfg_.min_core_degree && !strong[v] && degree[v] > 0; };
  for (uint32_t v = 0; v < n; ++v)
    if (weak(v)) stack.push_back(v);
  while (!stack.empty()) {
    const uint32_t v = stack.back();
    stack.pop_back();
    if (!weak(v)) continue;
    // Keep an isolated pair: v's only neighbour has no other neighbour.
    if (degree[only_neighbour(v)] <= 1) continue;
    remove(v, weak);
  }

  auto union_alive = [&](UnionFind& uf) {
    for (uint32_t v = 0; v < n; ++v)
      if (alive[v])
        for (uint32_t w : nb[v])
          if (w > v && alive[w]) uf.Union(v, w);
    for (const auto& members : clique_members) {
      uint32_t first = UINT32_MAX;
      for (uint32_t w : members) {
        if (!alive[w]) continue;
        if (first == UINT32_MAX) first = w;
        else uf.Union(first, w);
      }
    }
  };

  // Second peel, relative to the group's size: degree >= min_core_share of
  // the group found by the first peel (strong edges still exempt).
  {
    UnionFind first(n);
    union_alive(first);
    std::vector<uint32_t> group(n, 0);
    for (uint32_t v = 0; v < n; ++v)
      if (alive[v] && degree[v] > 0) ++group[first.Find(v)];
    std::vector<uint32_t> need(n, 0);
    for (uint32_t v = 0; v < n; ++v) need[v] = static_cast<uint32_t>(cfg_.min_core_share * double(group[first.Find(v)]));
    auto loose = [&](uint32_t v) { return alive[v] && degree[v] > 0 && degree[v] < need[v] && !strong[v]; };
    for (uint32_t v = 0; v < n; ++v)
      if (loose(v)) stack.push_back(v);
    while (!stack.empty()) {
      const uint32_t v = stack.back();
      stack.pop_back();
      if (loose(v)) remove(v, loose);
    }
  }

  UnionFind uf(n);
  union_alive(uf);
  auto kept = [&](uint32_t account) {
    auto it = local.find(account);
    return it != local.end() && alive[it->second] && degree[it->second] > 0;
  };

  std::vector<int32_t> comp_of_root(n, -1);
  std::vector<uint32_t> size(n, 0);
  for (uint32_t v = 0; v < n; ++v) ++size[uf.Find(v)];
  std::vector<int32_t> comp_of(n, -1);
  for (uint32_t v = 0; v < n; ++v) {
    const uint32_t r = uf.Find(v);
    if (size[r] < 2) continue;
    if (comp_of_root[r] < 0) {
      comp_of_root[r] = static_cast<int32_t>(result.components.size());
      result.components.emplace_back();
    }
    comp_of[v] = comp_of_root[r];
    Component& comp = result.components[comp_of_root[r]];
    comp.members.push_back(verts[v]->account);  // ascending: verts are
    for (uint32_t w : nb[v]) comp.edges += w > v && alive[w];
    if (verts[v]->state->n_org > 0) ++comp.org_members;
  }
  for (size_t c = 0; c < clique_members.size(); ++c) {
    if (clique_alive[c] < 2) continue;
    for (uint32_t w : clique_members[c]) {
      if (!alive[w]) continue;
      result.components[comp_of[w]].edges += uint64_t(clique_alive[c]) * (clique_alive[c] - 1) / 2;
      break;
    }
  }
  // Evidence: per component and kind, distinct weighted values shared by at
  // least two kept accounts, the members holding one, and their strength;
  // distinct payment instruments over all members.
  boost::unordered_flat_map<uint32_t, uint8_t> used;       // value index -> shared along kept accounts
  boost::unordered_flat_map<uint32_t, int32_t> value_comp;  // value index -> component that counted it
  boost::unordered_flat_map<uint32_t, int32_t> payment_comp;
  for (uint32_t v = 0; v < n; ++v) {
    if (comp_of[v] < 0) continue;
    Component& comp = result.components[comp_of[v]];
    std::array<bool, kLinkKinds> holds{};
    for (uint32_t vi : cands_.at(verts[v]->account).values) {
      const ValueState& val = values_[vi];
      const int k = val.kind;
      if (k == static_cast<int>(LinkKind::kPayment) && payment_comp.try_emplace(vi, comp_of[v]).second)
        ++comp.payment_values;
      if (val.q <= 0) continue;
      auto [it, inserted] = used.try_emplace(vi, 0);
      if (inserted) {
        uint32_t k_alive = 0;
        for (uint32_t h : val.holders)
          if (kept(h) && ++k_alive >= 2) break;
        it->second = k_alive >= 2;
      }
      if (!it->second) continue;
      holds[k] = true;
      if (value_comp.try_emplace(vi, comp_of[v]).second) {
        ++comp.evidence[k].values;
        comp.evidence[k].strength += double(val.q) / kScale;
      }
    }
    for (int k = 0; k < kLinkKinds; ++k) comp.evidence[k].accounts += holds[k];
  }
  return result;
}

}  // namespace moat::link
