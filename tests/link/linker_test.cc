#include "moat/link/linker.h"

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

}  // namespace
}  // namespace moat::link
