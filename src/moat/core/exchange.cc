#include "moat/core/exchange.h"

namespace moat {

void Exchange::Clear() {
  ts = 0;
  for (std::string* s : {&account_id, &request_id, &org_id, &api_key_id, &ip, &country,
                         &user_agent, &tls_fingerprint, &payment_fingerprint, &email_domain,
                         &model, &conversation_id, &system_prompt, &prompt}) {
    s->clear();
  }
  asn = 0;
  account_created = 0;
  turn = 0;
  input_tokens = output_tokens = reasoning_tokens = 0;
  temperature = 0.0;
  max_tokens = 0;
  status = 0;
  present = 0;
}

}  // namespace moat
