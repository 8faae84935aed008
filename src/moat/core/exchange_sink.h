// Where decoded exchanges go: ingest produces batches in event-time order,
// the engine (or a counter in a benchmark) consumes them. Lives in core so
// that neither side depends on the other.
#pragma once

#include <span>

#include "moat/core/exchange.h"

namespace moat {

class ExchangeSink {
 public:
  virtual ~ExchangeSink() = default;
  // Exchanges in event-time order, except those that arrived later than the
  // allowed lateness: those come as soon as they are read, flagged by the
  // ingest statistics, never dropped.
  virtual void Consume(std::span<const Exchange> batch) = 0;
};

}  // namespace moat
