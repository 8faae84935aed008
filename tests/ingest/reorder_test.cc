#include "moat/ingest/reorder.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <random>
#include <string>
#include <vector>

namespace moat::ingest {
namespace {

struct Collect : ExchangeSink {
  std::vector<Exchange> got;
  size_t batches = 0;
  void Consume(std::span<const Exchange> batch) override {
    ++batches;
    got.insert(got.end(), batch.begin(), batch.end());
  }
};

Exchange Make(EventTime ts, std::string account, std::string request_id = {}) {
  Exchange x;
  x.ts = ts;
  x.account_id = std::move(account);
  if (!request_id.empty()) {
    x.request_id = std::move(request_id);
    x.Set(Field::kRequestId);
  }
  return x;
}

TEST(ReorderBuffer, ShuffledWithinLatenessComesOutSorted) {
  std::mt19937_64 rng(42);
  std::vector<Exchange> input;
  const EventTime t0 = 1'770'000'000 * kMicrosPerSecond;
  for (int i = 0; i < 20000; ++i) {
    // Jitter below 5 minutes around a rising clock; many equal timestamps.
    const EventTime jitter = static_cast<EventTime>(rng() % (4 * kMicrosPerMinute));
    input.push_back(Make(t0 + i * 100'000 + jitter - jitter % kMicrosPerSecond, "a" + std::to_string(i)));
  }
  Collect sink;
  ReorderOptions opt;
  opt.batch_size = 7;
  ReorderBuffer rb(sink, opt);
  for (Exchange x : input) rb.Push(x);
  rb.Flush();
  ASSERT_EQ(sink.got.size(), input.size());
  EXPECT_EQ(rb.late(), 0u);
  // Sorted by ts, stable in arrival order for equal ts.
  std::vector<Exchange> expected = input;
  std::stable_sort(expected.begin(), expected.end(),
                   [](const Exchange& a, const Exchange& b) { return a.ts < b.ts; });
  for (size_t i = 0; i < expected.size(); ++i) {
    ASSERT_EQ(sink.got[i].ts, expected[i].ts) << i;
    ASSERT_EQ(sink.got[i].account_id, expected[i].account_id) << i;
  }
}

TEST(ReorderBuffer, SixMinutesLateIsDeliveredAndCounted) {
  Collect sink;
  ReorderBuffer rb(sink);
  const EventTime t0 = 1'770'000'000 * kMicrosPerSecond;
  for (int i = 0; i <= 10; ++i) {
    Exchange x = Make(t0 + i * kMicrosPerMinute, "on_time");
    rb.Push(x);
  }
  Exchange late = Make(t0 + 4 * kMicrosPerMinute, "late");  // newest is t0+10m: 6 minutes late
  rb.Push(late);
  Exchange edge = Make(t0 + 5 * kMicrosPerMinute, "edge");  // exactly 5 minutes: on time
  rb.Push(edge);
  rb.Flush();
  EXPECT_EQ(rb.late(), 1u);
  ASSERT_EQ(sink.got.size(), 13u);
  EXPECT_EQ(std::count_if(sink.got.begin(), sink.got.end(),
                          [](const Exchange& x) { return x.account_id == "late"; }),
            1);
  // Everything but the late one is in order.
  EventTime last = INT64_MIN;
  for (const Exchange& x : sink.got) {
    if (x.account_id == "late") continue;
    EXPECT_GE(x.ts, last);
    last = x.ts;
  }
}

TEST(ReorderBuffer, DuplicatesDroppedAndCounted) {
  Collect sink;
  ReorderBuffer rb(sink);
  const EventTime t0 = 1'770'000'000 * kMicrosPerSecond;
  Exchange a = Make(t0, "a", "req_1");
  Exchange b = Make(t0 + 1, "b", "req_2");
  Exchange a2 = Make(t0 + 2, "a-again", "req_1");
  Exchange n1 = Make(t0 + 3, "no-id");
  Exchange n2 = Make(t0 + 3, "no-id");
  for (Exchange* x : {&a, &b, &a2, &n1, &n2}) rb.Push(*x);
  rb.Flush();
  EXPECT_EQ(rb.duplicates(), 1u);
  ASSERT_EQ(sink.got.size(), 4u);
  EXPECT_EQ(sink.got[0].account_id, "a");
  EXPECT_EQ(sink.got[1].account_id, "b");
  EXPECT_EQ(sink.got[2].account_id, "no-id");
  EXPECT_EQ(sink.got[3].account_id, "no-id");
}

TEST(ReorderBuffer, IdsAreForgottenOutsideTheWindow) {
  Collect sink;
  ReorderBuffer rb(sink);
  const EventTime t0 = 1'770'000'000 * kMicrosPerSecond;
  Exchange a = Make(t0, "a", "req_1");
  rb.Push(a);
  Exchange far = Make(t0 + 10 * kMicrosPerMinute, "far");
  rb.Push(far);  // releases "a" and forgets req_1
  Exchange again = Make(t0 + 10 * kMicrosPerMinute, "reuse", "req_1");
  rb.Push(again);
  rb.Flush();
  EXPECT_EQ(rb.duplicates(), 0u);
  EXPECT_EQ(sink.got.size(), 3u);
}

}  // namespace
}  // namespace moat::ingest
