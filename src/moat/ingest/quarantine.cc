#include "moat/ingest/quarantine.h"

#include <cerrno>
#include <cstring>

#include "moat/core/json_writer.h"

namespace moat::ingest {

Quarantine::~Quarantine() {
  if (file_ != nullptr) (void)Flush();
}
Quarantine::Quarantine(Quarantine&&) noexcept = default;
Quarantine& Quarantine::operator=(Quarantine&& other) noexcept {
  if (this != &other) {
    if (file_ != nullptr) (void)Flush();
    file_ = std::move(other.file_);
    path_ = std::move(other.path_);
    buffer_ = std::move(other.buffer_);
    error_ = std::move(other.error_);
    count_ = other.count_;
  }
  return *this;
}

Result<Quarantine> Quarantine::Create(const std::string& path) {
  std::FILE* f = std::fopen(path.c_str(), "wb");
  if (f == nullptr) return Status::Error("ingest: quarantine " + path + ": " + std::strerror(errno));
  Quarantine q;
  q.file_.reset(f);
  q.path_ = path;
  q.buffer_.reserve(kFlushBytes + 4096);
  return q;
}

Result<Quarantine> Quarantine::CreateInDir(const std::string& dir) {
  return Create(dir + "/quarantine.jsonl");
}

void Quarantine::AppendEntry(std::string_view source, uint64_t line, LineOutcome reason,
                             std::string_view raw, std::string& out) {
  JsonWriter w(out);
  w.BeginObject();
  w.Key("source");
  w.String(source);
  w.Key("line");
  w.Uint(line);
  w.Key("reason");
  w.String(OutcomeCode(reason));
  w.Key("raw");
  w.String(raw);
  w.EndObject();
}

void Quarantine::Keep(std::string_view source, uint64_t line, LineOutcome reason,
                      std::string_view raw) {
  ++count_;
  if (file_ == nullptr) return;
  AppendEntry(source, line, reason, raw, buffer_);
  buffer_.push_back('\n');
  if (buffer_.size() >= kFlushBytes) (void)Flush();
}

Status Quarantine::Flush() {
  if (file_ != nullptr && !buffer_.empty()) {
    if (error_.empty() &&
        (std::fwrite(buffer_.data(), 1, buffer_.size(), file_.get()) != buffer_.size() ||
         std::fflush(file_.get()) != 0)) {
      error_ = "ingest: quarantine " + path_ + ": " + std::strerror(errno);
    }
    buffer_.clear();
  }
  return error_.empty() ? Status::Ok() : Status::Error(error_);
}

}  // namespace moat::ingest
