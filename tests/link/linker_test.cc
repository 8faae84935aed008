#include "moat/link/linker.h"

#include <algorithm>
#include <array>
#include <utility>
#include <vector>

#include <gtest/gtest.h>

namespace moat::link {
namespace {

using features::AccountState;

constexpr int K(LinkKind k) { return static_cast<int>(k); }

// Gives `st` one value of `kind`, counting the account in the linker's index
// as the engine does.
void Give(Linker& l, AccountState& st, LinkKind kind, uint32_t value) {
  if (st.attrs[K(kind)].Add(value)) l.CountAccount(kind, value);
}

TEST(LinkerTest, SharedPaymentLinksCandidates) {
  Linker l{LinkConfig{}};
  std::vector<AccountState> st(5);
  for (int i = 0; i < 3; ++i) Give(l, st[i], LinkKind::kPayment, 7);
  Give(l, st[3], LinkKind::kPayment, 8);
  Give(l, st[4], LinkKind::kPayment, 9);
  std::vector<Candidate> c;
  for (uint32_t i = 0; i < 5; ++i) c.push_back({i, &st[i]});
  const LinkResult r = l.Link(c);
  ASSERT_EQ(r.components.size(), 1u);
  EXPECT_EQ(r.components[0].members, (std::vector<uint32_t>{0, 1, 2}));
  EXPECT_EQ(r.components[0].evidence[K(LinkKind::kPayment)].values, 1u);
  EXPECT_EQ(r.components[0].evidence[K(LinkKind::kPayment)].accounts, 3u);
}

TEST(LinkerTest, OneWeakSharedValueDoesNotLink) {
  Linker l{LinkConfig{}};
  std::vector<AccountState> st(2);
  Give(l, st[0], LinkKind::kSubnet, 1);
  Give(l, st[1], LinkKind::kSubnet, 1);
  std::vector<Candidate> c = {{0, &st[0]}, {1, &st[1]}};
  EXPECT_TRUE(l.Link(c).components.empty());
  // A second, independent weak value shared by the same pair does link.
  Give(l, st[0], LinkKind::kEmailDomain, 5);
  Give(l, st[1], LinkKind::kEmailDomain, 5);
  const LinkResult r = l.Link(c);
  ASSERT_EQ(r.components.size(), 1u);
  EXPECT_EQ(r.components[0].evidence[K(LinkKind::kSubnet)].values, 1u);
  EXPECT_EQ(r.components[0].evidence[K(LinkKind::kEmailDomain)].values, 1u);
}

TEST(LinkerTest, CommonValueIsWeakEvenIfStrongKind) {
  // 3 candidates share a card that 200 ordinary accounts also use (a shared
  // corporate card, say): purity 3/203, no link. Same for a webmail domain
  // plus a carrier NAT subnet.
  Linker l{LinkConfig{}};
  std::vector<AccountState> st(3);
  for (int i = 0; i < 3; ++i) {
    Give(l, st[i], LinkKind::kPayment, 1);
    Give(l, st[i], LinkKind::kEmailDomain, 2);
    Give(l, st[i], LinkKind::kSubnet, 3);
  }
  for (int i = 0; i < 200; ++i) {
    l.CountAccount(LinkKind::kPayment, 1);
    l.CountAccount(LinkKind::kEmailDomain, 2);
    l.CountAccount(LinkKind::kSubnet, 3);
  }
  std::vector<Candidate> c = {{0, &st[0]}, {1, &st[1]}, {2, &st[2]}};
  EXPECT_TRUE(l.Link(c).components.empty());
}

TEST(LinkerTest, ComponentsAreTransitive) {
  Linker l{LinkConfig{}};
  std::vector<AccountState> st(4);
  Give(l, st[0], LinkKind::kPayment, 1);
  Give(l, st[1], LinkKind::kPayment, 1);
  Give(l, st[1], LinkKind::kPayment, 2);
  Give(l, st[2], LinkKind::kPayment, 2);
  Give(l, st[3], LinkKind::kPayment, 3);
  std::vector<Candidate> c;
  for (uint32_t i = 0; i < 4; ++i) c.push_back({i, &st[i]});
  const LinkResult r = l.Link(c);
  ASSERT_EQ(r.components.size(), 1u);
  EXPECT_EQ(r.components[0].members, (std::vector<uint32_t>{0, 1, 2}));
  EXPECT_EQ(r.components[0].evidence[K(LinkKind::kPayment)].values, 2u);
}


TEST(LinkerTest, BystanderSharingOneWeakPairIsPeeled) {
  // Five accounts share two subnets each with each other (a proxy pool); a
  // sixth shares one subnet and one e-mail domain with a single member only.
  Linker l{LinkConfig{}};
  std::vector<AccountState> st(6);
  for (int i = 0; i < 5; ++i) {
    Give(l, st[i], LinkKind::kSubnet, 10);
    Give(l, st[i], LinkKind::kSubnet, 11);
  }
  Give(l, st[5], LinkKind::kSubnet, 12);
  Give(l, st[0], LinkKind::kSubnet, 12);
  Give(l, st[5], LinkKind::kEmailDomain, 3);
  Give(l, st[0], LinkKind::kEmailDomain, 3);
  std::vector<Candidate> c;
  for (uint32_t i = 0; i < 6; ++i) c.push_back({i, &st[i]});
  const LinkResult r = l.Link(c);
  ASSERT_EQ(r.components.size(), 1u);
  EXPECT_EQ(r.components[0].members, (std::vector<uint32_t>{0, 1, 2, 3, 4}));
  EXPECT_EQ(r.components[0].edges, 10u);
}

TEST(LinkerTest, SharedTemplatesLinkAndOrgMembersAreCounted) {
  Linker l{LinkConfig{}};
  std::vector<AccountState> st(3);
  for (int i = 0; i < 3; ++i) {
    Give(l, st[i], LinkKind::kTemplate, 1);
    Give(l, st[i], LinkKind::kTemplate, 2);
  }
  st[2].n_org = 4;
  std::vector<Candidate> c;
  for (uint32_t i = 0; i < 3; ++i) c.push_back({i, &st[i]});
  const LinkResult r = l.Link(c);
  ASSERT_EQ(r.components.size(), 1u);
  EXPECT_EQ(r.components[0].members.size(), 3u);
  EXPECT_EQ(r.components[0].org_members, 1u);
  EXPECT_EQ(r.components[0].evidence[K(LinkKind::kTemplate)].values, 2u);
  EXPECT_EQ(r.components[0].payment_values, 0u);
}

// Components as comparable data: members and edges per component.
std::vector<std::pair<std::vector<uint32_t>, uint32_t>> Shape(const LinkResult& r) {
  std::vector<std::pair<std::vector<uint32_t>, uint32_t>> out;
  for (const Component& c : r.components) out.push_back({c.members, c.edges});
  std::sort(out.begin(), out.end());
  return out;
}

// Over many ticks, accounts gain values and candidates come and go; the
// persistent linker must give what a linker built from scratch on the same
// state gives. With every value below hub_holders (weighed pair by pair)
// the edge counts agree too; with hubs (which stay hubs once made), the
// campaigns do.
void CheckIncrementalMatchesFresh(uint32_t hub_holders, bool compare_edges) {
  constexpr uint32_t kAccounts = 40;
  LinkConfig cfg;
  cfg.hub_holders = hub_holders;
  std::vector<AccountState> st(kAccounts);
  Linker inc{cfg};
  std::vector<std::array<uint32_t, 3>> given;  // (account, kind, value) in order
  uint64_t rng = 12345;
  auto next = [&](uint32_t n) {
    rng = rng * 6364136223846793005ULL + 1442695040888963407ULL;
    return static_cast<uint32_t>((rng >> 33) % n);
  };
  auto members = [](const LinkResult& r) {
    std::vector<std::vector<uint32_t>> m;
    for (const Component& c : r.components) m.push_back(c.members);
    return m;
  };
  const LinkKind kinds[] = {LinkKind::kPayment, LinkKind::kSubnet, LinkKind::kEmailDomain, LinkKind::kTemplate};
  for (int tick = 0; tick < 30; ++tick) {
    for (int j = 0; j < 12; ++j) {
      const uint32_t a = next(kAccounts);
      const LinkKind k = kinds[next(4)];
      const uint32_t v = next(k == LinkKind::kPayment ? 30 : 8);
      if (st[a].attrs[K(k)].Add(v)) {
        inc.CountAccount(k, v);
        given.push_back({a, static_cast<uint32_t>(K(k)), v});
      }
    }
    std::vector<Candidate> c;
    for (uint32_t i = 0; i < kAccounts; ++i)
      if (next(4) != 0) c.push_back({i, &st[i]});
    Linker fresh{cfg};
    for (const auto& g : given) fresh.CountAccount(static_cast<LinkKind>(g[1]), g[2]);
    const LinkResult x = inc.Link(c), y = fresh.Link(c);
    if (compare_edges) EXPECT_EQ(Shape(x), Shape(y)) << "tick " << tick;
    EXPECT_EQ(members(x), members(y)) << "tick " << tick;
  }
  EXPECT_GT(inc.stats().holder_removes, 0u);
}

TEST(LinkerTest, IncrementalLinkMatchesAFreshLinker) { CheckIncrementalMatchesFresh(1000, true); }
TEST(LinkerTest, IncrementalLinkWithHubsMatchesAFreshLinker) { CheckIncrementalMatchesFresh(4, false); }

TEST(LinkerTest, DepartedCandidateLeavesItsCampaign) {
  Linker l{LinkConfig{}};
  std::vector<AccountState> st(3);
  for (int i = 0; i < 3; ++i) Give(l, st[i], LinkKind::kPayment, 7);
  Give(l, st[0], LinkKind::kPayment, 8);
  Give(l, st[1], LinkKind::kPayment, 8);
  std::vector<Candidate> c = {{0, &st[0]}, {1, &st[1]}, {2, &st[2]}};
  ASSERT_EQ(l.Link(c).components.size(), 1u);
  EXPECT_EQ(l.stats().edges, 3u);
  // Account 2's raw score fell below the link threshold: card 7 is now
  // weaker (2 of its 3 accounts are candidates), card 8 still links 0 and 1.
  c.pop_back();
  const LinkResult r = l.Link(c);
  ASSERT_EQ(r.components.size(), 1u);
  EXPECT_EQ(r.components[0].members, (std::vector<uint32_t>{0, 1}));
  EXPECT_EQ(l.stats().edges, 1u);
  c.clear();
  EXPECT_TRUE(l.Link(c).components.empty());
  EXPECT_EQ(l.stats().pairs, 0u);  // nothing left behind
}

TEST(LinkerTest, UnchangedTickDoesNoPairWork) {
  LinkConfig cfg;
  cfg.hub_holders = 1000;  // pair by pair: this counts pair updates
  Linker l{cfg};
  std::vector<AccountState> st(50);
  std::vector<Candidate> c;
  for (uint32_t i = 0; i < 50; ++i) {
    Give(l, st[i], LinkKind::kTemplate, 1);
    Give(l, st[i], LinkKind::kTemplate, 2);
    c.push_back({i, &st[i]});
  }
  ASSERT_EQ(l.Link(c).components.size(), 1u);
  const uint64_t before = l.stats().pair_updates;
  EXPECT_EQ(l.Link(c).components.size(), 1u);
  EXPECT_EQ(l.stats().pair_updates, before);
  // A newcomer joins pairs only with the existing holders.
  AccountState extra;
  Give(l, extra, LinkKind::kTemplate, 1);
  Give(l, extra, LinkKind::kTemplate, 2);
  st.push_back(extra);
  c.clear();
  for (uint32_t i = 0; i < st.size(); ++i) c.push_back({i, &st[i]});
  EXPECT_EQ(l.Link(c).components[0].members.size(), 51u);
  EXPECT_EQ(l.stats().pair_updates, before + 100);
}

// Values held by many candidates link through themselves: no pair entries,
// the same campaigns as pairwise linking would give.
TEST(LinkerTest, HubValuesLinkWithoutPairs) {
  LinkConfig cfg;
  cfg.hub_holders = 8;
  Linker l{cfg};
  std::vector<AccountState> st(40);
  std::vector<Candidate> c;
  // 0..29: one campaign sharing a template (0.45) and, in groups of 10, a
  // proxy subnet (0.5): template + subnet links each group; 0..3, 10..13 and
  // 20..23 also share a sign-up domain (0.5), which bridges the groups.
  // 30..39 share only the template: not enough on its own.
  for (uint32_t i = 0; i < 40; ++i) {
    Give(l, st[i], LinkKind::kTemplate, 1);
    if (i < 30) Give(l, st[i], LinkKind::kSubnet, 100 + i / 10);
    if (i < 30 && i % 10 < 4) Give(l, st[i], LinkKind::kEmailDomain, 200);
    c.push_back({i, &st[i]});
  }
  // 30 and 31 also share a small e-mail domain (0.5): explicit pair + hub.
  Give(l, st[30], LinkKind::kEmailDomain, 7);
  Give(l, st[31], LinkKind::kEmailDomain, 7);
  const LinkResult r = l.Link(c);
  EXPECT_EQ(l.stats().hubs, 5u);  // the template, the three subnets, the domain
  EXPECT_EQ(l.stats().pairs, 1u);  // only the e-mail domain pair is explicit
  ASSERT_EQ(r.components.size(), 2u);
  std::vector<uint32_t> campaign(30);
  for (uint32_t i = 0; i < 30; ++i) campaign[i] = i;
  EXPECT_EQ(r.components[0].members, campaign);
  EXPECT_EQ(r.components[0].evidence[K(LinkKind::kSubnet)].values, 3u);
  EXPECT_EQ(r.components[0].evidence[K(LinkKind::kTemplate)].values, 1u);
  EXPECT_EQ(r.components[0].evidence[K(LinkKind::kEmailDomain)].accounts, 12u);
  EXPECT_EQ(r.components[1].members, (std::vector<uint32_t>{30, 31}));
  // A card shared by all 40 (strong on its own) joins everyone into one.
  for (uint32_t i = 0; i < 40; ++i) Give(l, st[i], LinkKind::kPayment, 5);
  const LinkResult all = l.Link(c);
  ASSERT_EQ(all.components.size(), 1u);
  EXPECT_EQ(all.components[0].members.size(), 40u);
  EXPECT_EQ(l.stats().pairs, 1u);
}

// Replaced kinds (lockstep slots): when an account's slots are swapped and
// its epoch bumped, its old values stop linking it.
TEST(LinkerTest, ReplacedLockstepValuesAreReRegistered) {
  Linker l{LinkConfig{}};
  std::vector<AccountState> st(3);
  auto set_lockstep = [&](AccountState& a, uint32_t first) {
    auto& slots = a.attrs[K(LinkKind::kLockstep)];
    for (int i = 0; i < slots.size; ++i) l.UncountAccount(LinkKind::kLockstep, slots.ids[i]);
    slots = {};
    for (uint32_t v = first; v < first + 16; ++v) {
      slots.Add(v);
      l.CountAccount(LinkKind::kLockstep, v);
    }
    ++a.replaced_epoch;
  };
  // All three wake up together and share a sign-up domain: 0.6 + 0.5 links.
  for (auto& a : st) {
    set_lockstep(a, 100);
    Give(l, a, LinkKind::kEmailDomain, 9);
  }
  std::vector<Candidate> c = {{0, &st[0]}, {1, &st[1]}, {2, &st[2]}};
  LinkResult r = l.Link(c);
  ASSERT_EQ(r.components.size(), 1u);
  EXPECT_EQ(r.components[0].members.size(), 3u);
  EXPECT_EQ(r.components[0].evidence[K(LinkKind::kLockstep)].values, 16u);
  // Account 2's schedule drifts apart: its new slots share nothing.
  set_lockstep(st[2], 500);
  r = l.Link(c);
  ASSERT_EQ(r.components.size(), 1u);
  EXPECT_EQ(r.components[0].members, (std::vector<uint32_t>{0, 1}));
  EXPECT_EQ(l.AccountsWith(LinkKind::kLockstep, 100), 2u);
}

TEST(LinkerTest, EvidenceCarriesStrength) {
  Linker l{LinkConfig{}};
  std::vector<AccountState> st(3);
  for (int i = 0; i < 3; ++i) {
    Give(l, st[i], LinkKind::kPayment, 4);
    Give(l, st[i], LinkKind::kTlsFingerprint, 9);
  }
  for (int i = 0; i < 27; ++i) l.CountAccount(LinkKind::kTlsFingerprint, 9);  // common SDK build
  std::vector<Candidate> c = {{0, &st[0]}, {1, &st[1]}, {2, &st[2]}};
  const LinkResult r = l.Link(c);
  ASSERT_EQ(r.components.size(), 1u);
  EXPECT_NEAR(r.components[0].evidence[K(LinkKind::kPayment)].strength, 1.0, 1e-3);
  EXPECT_EQ(r.components[0].evidence[K(LinkKind::kTlsFingerprint)].values, 0u);  // 0.15 * 3/30: too common
}

}  // namespace
}  // namespace moat::link
