// Live export's memory of what it published: per campaign, a fingerprint of
// the shared content and the newest `modified` sent, so each round re-publishes
// only campaigns whose content changed, always as strictly newer versions
// (a TAXII server keeps one object per id and version, and partners take the
// newest). Holds STIX ids and digests only, never a raw value.
#pragma once

#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "moat/core/status.h"
#include "moat/intel/bundle.h"

namespace moat::intel {

class PublishLedger {
 public:
  // The campaigns of `all` whose content differs from what was last
  // published, each with modified_floor set past its previous version.
  std::vector<CampaignIntel> Changed(const std::vector<CampaignIntel>& all, const CoalitionKey& key,
                                     const ExportOptions& options) const;
  // Call once the campaigns Changed returned have been published.
  void Record(const std::vector<CampaignIntel>& published, const CoalitionKey& key, const ExportOptions& options);

  std::string Save() const;
  [[nodiscard]] Status Load(std::string_view json);
  size_t size() const { return campaigns_.size(); }

 private:
  struct Entry {
    std::string fingerprint;  // SHA-256 of the campaign's objects, without a floor
    EventTime modified = 0;   // the newest `modified` published among them
  };
  std::map<std::string, Entry> campaigns_;  // campaign STIX id ->
};

}  // namespace moat::intel
