// degrade_bench: throughput (MB/s, one core) and per-response latency of
// degrade::Transformer on ~4 KB responses built from the real answer
// corpora, beside two floors measured in the same run: copying the bytes and
// parsing them with simdjson On-Demand (the transform parses, rewrites and
// re-escapes, so the parse is its natural floor). Also detection MB/s.
//   degrade_bench [CORPORA_DIR] [ROUNDS]
#include <algorithm>
#include <chrono>
#include <ctime>
#include <cstdio>
#include <string>
#include <vector>

#include <simdjson.h>

#include "moat/core/json_writer.h"
#include "moat/degrade/answer_corpus.h"
#include "moat/degrade/detector.h"
#include "moat/degrade/experiment.h"
#include "moat/degrade/transform.h"

namespace {

using Clock = std::chrono::steady_clock;
using moat::degrade::Mode;

double Seconds(Clock::time_point a, Clock::time_point b) { return std::chrono::duration<double>(b - a).count(); }

// Anthropic-shaped responses of ~4 KB: a thinking block (1/3) and a text
// block (2/3) cut from consecutive real answers.
std::vector<std::string> MakeResponses(const std::vector<moat::degrade::AnswerDoc>& answers, size_t count) {
  std::vector<std::string> out;
  size_t next = 0;
  while (out.size() < count) {
    std::string thinking, text;
    while (thinking.size() < 1300) thinking += answers[next++ % answers.size()].text + "\n";
    while (text.size() < 2500) text += answers[next++ % answers.size()].text + "\n\n";
    std::string json;
    moat::JsonWriter w(json);
    w.BeginObject();
    w.Key("id");
    w.String("msg_" + std::to_string(out.size()));
    w.Key("type");
    w.String("message");
    w.Key("content");
    w.BeginArray();
    w.BeginObject();
    w.Key("type");
    w.String("thinking");
    w.Key("thinking");
    w.String(thinking);
    w.EndObject();
    w.BeginObject();
    w.Key("type");
    w.String("text");
    w.Key("text");
    w.String(text);
    w.EndObject();
    w.EndArray();
    w.Key("usage");
    w.Raw(R"({"input_tokens":120,"output_tokens":900})");
    w.EndObject();
    out.push_back(std::move(json));
  }
  return out;
}

struct Figures {
  double mb_per_s = 0;
  double p50_us = 0, p99_us = 0;
  double cpu_p99_us = 0;  // thread CPU time: the code's own tail, without preemption
};

// This thread's CPU time; wall-clock tails on a shared machine are mostly
// the scheduler, so both are reported.
double ThreadCpuMicros() {
  timespec ts;
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
  return ts.tv_sec * 1e6 + ts.tv_nsec / 1e3;
}

template <typename F>
Figures Measure(const std::vector<std::string>& responses, int rounds, F&& f) {
  std::vector<double> latencies, cpu;
  std::vector<double> rates;
  size_t bytes = 0;
  for (const auto& r : responses) bytes += r.size();
  for (int round = 0; round < rounds; ++round) {
    const auto start = Clock::now();
    for (const auto& r : responses) {
      const double c0 = ThreadCpuMicros();
      const auto t0 = Clock::now();
      f(r);
      latencies.push_back(Seconds(t0, Clock::now()) * 1e6);
      cpu.push_back(ThreadCpuMicros() - c0);
    }
    rates.push_back(bytes / Seconds(start, Clock::now()) / 1e6);
  }
  std::sort(rates.begin(), rates.end());
  std::sort(latencies.begin(), latencies.end());
  std::sort(cpu.begin(), cpu.end());
  Figures fig;
  fig.mb_per_s = rates[rates.size() / 2];
  fig.p50_us = latencies[latencies.size() / 2];
  fig.p99_us = latencies[static_cast<size_t>(0.99 * (latencies.size() - 1))];
  fig.cpu_p99_us = cpu[static_cast<size_t>(0.99 * (cpu.size() - 1))];
  return fig;
}

}  // namespace

int main(int argc, char** argv) {
  const std::string corpora = argc > 1 ? argv[1] : std::string(MOAT_SOURCE_DIR) + "/../shared/corpora";
  const int rounds = argc > 2 ? std::max(1, std::atoi(argv[2])) : 5;
  auto answers = moat::degrade::LoadAnswers(corpora);
  auto synonyms = moat::degrade::SynonymTable::Load(moat::degrade::DefaultSynonymsPath());
  if (!answers.ok() || !synonyms.ok()) {
    std::fprintf(stderr, "degrade_bench: %s%s\n", answers.status().message().c_str(),
                 synonyms.status().message().c_str());
    return 2;
  }
  auto transformer =
      moat::degrade::Transformer::Create(std::move(synonyms).value(), moat::degrade::ExperimentKeys(1, 2));
  const auto& t = transformer.value();
  const std::vector<std::string> responses = MakeResponses(answers.value(), 2000);
  size_t total = 0;
  for (const auto& r : responses) total += r.size();
  std::printf("%zu responses, mean %.0f bytes, %d rounds, one core; MB/s is the median round, latency over all calls\n\n",
              responses.size(), static_cast<double>(total) / responses.size(), rounds);

  size_t sink = 0;
  std::printf("%-28s %10s %10s %10s %12s\n", "", "MB/s", "p50 us", "p99 us", "cpu p99 us");
  const auto row = [](const char* name, const Figures& f) {
    std::printf("%-28s %10.1f %10.2f %10.2f %12.2f\n", name, f.mb_per_s, f.p50_us, f.p99_us, f.cpu_p99_us);
  };
  row("floor: copy", Measure(responses, rounds, [&](const std::string& r) {
        std::string copy = r;
        sink += copy.size();
      }));
  simdjson::ondemand::parser parser;
  row("floor: simdjson parse", Measure(responses, rounds, [&](const std::string& r) {
        simdjson::padded_string p(r);
        auto doc = parser.iterate(p);
        std::string_view id;
        if (!doc["id"].get(id)) sink += id.size();
        for (auto block : doc["content"].get_array()) {
          std::string_view s;
          if (!block["type"].get(s)) sink += s.size();
        }
      }));
  for (Mode mode : {Mode::kWithholdReasoning, Mode::kWatermark, Mode::kWithholdAndWatermark}) {
    const std::string name = "transform " + std::string(moat::degrade::ModeName(mode));
    row(name.c_str(), Measure(responses, rounds, [&](const std::string& r) {
          auto out = t.Transform(r, mode);
          sink += out.ok() ? out.value().size() : 0;
        }));
  }
  const moat::degrade::KeyRing& ring = *t.keys();
  moat::degrade::Detector detector(t.marker(), ring.Active());
  row("detect (2 keys, per doc)", Measure(responses, rounds, [&](const std::string& r) {
        detector.Clear();
        detector.Add(r);
        sink += detector.Finish().slots;
      }));
  std::printf("\n(checksum %zu)\n", sink);
  return 0;
}
