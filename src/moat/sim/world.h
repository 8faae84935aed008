// Static tables of the simulated world: countries and their ISPs, hosting
// providers, universities, client stacks and models. Values are plausible
// public numbers (real ASNs, typical prefixes); nothing here is a label.
#pragma once

#include <cstdint>

namespace moat::sim::world {

struct Range {
  int64_t asn;
  const char* cc;
  uint32_t v4;     // network address
  int v4_bits;     // prefix length of the range we draw from
  const char* v6;  // "2601:" style prefix (first 2-3 groups), or nullptr
};

constexpr uint32_t Ip(int a, int b, int c = 0, int d = 0) {
  return (static_cast<uint32_t>(a) << 24) | (static_cast<uint32_t>(b) << 16) | (static_cast<uint32_t>(c) << 8) |
         static_cast<uint32_t>(d);
}

struct Country {
  const char* cc;
  double weight;     // share of human users
  int tz_minutes;    // UTC offset (February, no DST)
  Range home[2];     // fixed-line residential ISPs
  Range mobile;      // carrier (carrier-grade NAT: few public addresses, many users)
  const char* mail;  // popular local free-mail domain
};

inline constexpr Country kCountries[] = {
    {"US", 0.20, -300, {{7922, "US", Ip(73, 0), 12, "2601:"}, {7018, "US", Ip(99, 0), 12, "2600:1700:"}}, {21928, "US", Ip(172, 56), 14, "2607:fb90:"}, "gmail.com"},
    {"US", 0.12, -480, {{20115, "US", Ip(76, 32), 12, "2600:6c40:"}, {7922, "US", Ip(67, 160), 12, "2601:"}}, {6167, "US", Ip(174, 192), 12, "2600:1000:"}, "yahoo.com"},
    {"IN", 0.10, 330, {{24560, "IN", Ip(122, 160), 12, "2401:4900:"}, {9829, "IN", Ip(117, 192), 12, nullptr}}, {55836, "IN", Ip(49, 36), 14, "2409:4040:"}, "gmail.com"},
    {"GB", 0.06, 0, {{2856, "GB", Ip(86, 128), 11, "2a00:23c5:"}, {5089, "GB", Ip(82, 0), 12, nullptr}}, {12576, "GB", Ip(92, 40), 14, nullptr}, "hotmail.co.uk"},
    {"DE", 0.06, 60, {{3320, "DE", Ip(79, 192), 11, "2003:e4:"}, {6805, "DE", Ip(88, 64), 12, nullptr}}, {3209, "DE", Ip(109, 40), 14, "2a02:3032:"}, "gmx.de"},
    {"BR", 0.05, -180, {{28573, "BR", Ip(177, 96), 12, "2804:14c:"}, {18881, "BR", Ip(191, 176), 12, nullptr}}, {26599, "BR", Ip(177, 56), 14, nullptr}, "gmail.com"},
    {"FR", 0.04, 60, {{3215, "FR", Ip(90, 0), 11, "2a01:cb00:"}, {12322, "FR", Ip(82, 64), 12, "2a01:e0a:"}}, {51207, "FR", Ip(37, 164), 14, nullptr}, "orange.fr"},
    {"JP", 0.04, 540, {{4713, "JP", Ip(153, 128), 11, "240b:10:"}, {2516, "JP", Ip(106, 128), 12, nullptr}}, {9605, "JP", Ip(1, 66), 15, nullptr}, "yahoo.co.jp"},
    {"CA", 0.03, -300, {{812, "CA", Ip(99, 224), 12, "2607:fea8:"}, {852, "CA", Ip(70, 64), 12, nullptr}}, {22652, "CA", Ip(174, 88), 14, nullptr}, "gmail.com"},
    {"KR", 0.03, 540, {{4766, "KR", Ip(121, 128), 11, nullptr}, {9318, "KR", Ip(222, 96), 12, nullptr}}, {9644, "KR", Ip(223, 38), 15, nullptr}, "naver.com"},
    {"AU", 0.02, 660, {{1221, "AU", Ip(101, 160), 12, "2001:8003:"}, {4804, "AU", Ip(49, 176), 12, nullptr}}, {1221, "AU", Ip(1, 128), 14, nullptr}, "gmail.com"},
    {"NL", 0.02, 60, {{1136, "NL", Ip(84, 80), 12, "2a02:a440:"}, {33915, "NL", Ip(77, 160), 12, nullptr}}, {50266, "NL", Ip(31, 20), 15, nullptr}, "gmail.com"},
    {"ES", 0.02, 60, {{3352, "ES", Ip(83, 32), 12, nullptr}, {12479, "ES", Ip(90, 160), 12, nullptr}}, {12430, "ES", Ip(37, 14), 15, nullptr}, "hotmail.es"},
    {"MX", 0.02, -360, {{8151, "MX", Ip(187, 130), 12, nullptr}, {28509, "MX", Ip(189, 128), 12, nullptr}}, {28403, "MX", Ip(200, 68), 15, nullptr}, "hotmail.com"},
    {"ID", 0.02, 420, {{7713, "ID", Ip(36, 64), 12, nullptr}, {17451, "ID", Ip(110, 136), 12, nullptr}}, {23693, "ID", Ip(114, 120), 14, nullptr}, "gmail.com"},
    {"PL", 0.02, 60, {{5617, "PL", Ip(83, 24), 12, nullptr}, {29314, "PL", Ip(31, 60), 12, nullptr}}, {39603, "PL", Ip(37, 248), 15, nullptr}, "wp.pl"},
    {"SG", 0.015, 480, {{9506, "SG", Ip(116, 88), 12, nullptr}, {4657, "SG", Ip(175, 156), 12, nullptr}}, {45143, "SG", Ip(111, 65), 15, nullptr}, "gmail.com"},
    {"TR", 0.015, 180, {{9121, "TR", Ip(88, 224), 12, nullptr}, {47331, "TR", Ip(176, 88), 12, nullptr}}, {16135, "TR", Ip(188, 119), 15, nullptr}, "hotmail.com"},
    {"VN", 0.015, 420, {{7552, "VN", Ip(113, 160), 12, nullptr}, {18403, "VN", Ip(14, 160), 12, nullptr}}, {45899, "VN", Ip(27, 64), 15, nullptr}, "gmail.com"},
    {"IT", 0.02, 60, {{3269, "IT", Ip(79, 0), 12, nullptr}, {30722, "IT", Ip(95, 232), 12, nullptr}}, {1267, "IT", Ip(151, 32), 15, nullptr}, "libero.it"},
};

// Cloud and hosting providers (datacenter address space).
inline constexpr Range kAws[] = {{16509, "US", Ip(3, 80), 12, "2600:1f18:"}, {14618, "US", Ip(54, 160), 12, nullptr}, {16509, "IE", Ip(34, 240), 13, nullptr}};
inline constexpr Range kGcp[] = {{396982, "US", Ip(34, 120), 13, "2600:1900:"}, {396982, "NL", Ip(35, 204), 14, nullptr}};
inline constexpr Range kAzure[] = {{8075, "US", Ip(20, 40), 13, nullptr}, {8075, "NL", Ip(40, 114), 15, nullptr}};
inline constexpr Range kHosting[] = {
    {16276, "FR", Ip(51, 75), 16, nullptr},   // OVH
    {24940, "DE", Ip(88, 198), 16, nullptr},  // Hetzner
    {24940, "FI", Ip(95, 216), 16, nullptr},  // Hetzner
    {14061, "US", Ip(159, 203), 16, nullptr}, // DigitalOcean
    {20473, "US", Ip(45, 77), 16, nullptr},   // Vultr / Choopa
    {20473, "SG", Ip(149, 28), 16, nullptr},  // Vultr / Choopa
    {9009, "NL", Ip(185, 156), 16, nullptr},  // M247
    {9009, "RO", Ip(193, 27), 16, nullptr},   // M247
    {60781, "NL", Ip(212, 32), 16, nullptr},  // Leaseweb
    {45102, "HK", Ip(47, 242), 16, nullptr},  // Alibaba Cloud
    {132203, "HK", Ip(43, 128), 16, nullptr}, // Tencent Cloud
};
// Business fixed lines for offices and corporate egress.
inline constexpr Range kBusiness[] = {
    {174, "US", Ip(38, 0), 12, nullptr},    // Cogent
    {3356, "US", Ip(4, 0), 12, nullptr},    // Lumen
    {6461, "US", Ip(64, 124), 14, nullptr}, // Zayo
    {1299, "DE", Ip(62, 115), 16, nullptr}, // Arelion
    {3257, "GB", Ip(89, 149), 16, nullptr}, // GTT
    {2914, "JP", Ip(61, 200), 14, nullptr}, // NTT
};

struct University {
  const char* domain;
  Range net;
  int tz_minutes;
};
inline constexpr University kUniversities[] = {
    {"stanford.edu", {32, "US", Ip(171, 64), 14, "2607:f6d0:"}, -480},
    {"mit.edu", {3, "US", Ip(18, 0), 12, "2603:400a:"}, -300},
    {"cmu.edu", {9, "US", Ip(128, 2), 16, nullptr}, -300},
    {"berkeley.edu", {25, "US", Ip(128, 32), 16, "2607:f140:"}, -480},
    {"ethz.ch", {559, "CH", Ip(129, 132), 16, nullptr}, 60},
    {"ox.ac.uk", {786, "GB", Ip(163, 1), 16, nullptr}, 0},
    {"tsinghua.edu.cn", {4538, "CN", Ip(166, 111), 16, nullptr}, 480},
    {"utoronto.ca", {239, "CA", Ip(128, 100), 16, nullptr}, -300},
    {"kaist.ac.kr", {1781, "KR", Ip(143, 248), 16, nullptr}, 540},
    {"u-tokyo.ac.jp", {2501, "JP", Ip(133, 11), 16, nullptr}, 540},
    {"cs.washington.edu", {73, "US", Ip(128, 95), 16, nullptr}, -480},
    {"mpi-inf.mpg.de", {680, "DE", Ip(139, 19), 16, nullptr}, 60},
};

enum class Family { kOpenAi, kAnthropic, kAny };

struct Client {
  const char* user_agent;
  const char* tls;  // JA4 style, one per TLS stack
  bool browser;
  Family family;
};
inline constexpr const char* kTlsChrome = "t13d1516h2_8daaf6152771_02713d6af862";
inline constexpr const char* kTlsSafari = "t13d2014h2_a09f3c656075_14788d8d241b";
inline constexpr const char* kTlsFirefox = "t13d1715h2_5b57614c22b0_3d5424432f57";
inline constexpr const char* kTlsPythonH2 = "t13d1812h2_85036bcba153_375ca2c5e164";
inline constexpr const char* kTlsPythonH1 = "t13d1812h1_85036bcba153_375ca2c5e164";
inline constexpr const char* kTlsNode = "t13d1311h2_e8f1e7e78f70_6bebaf5329ac";
inline constexpr const char* kTlsGo = "t13d1310h2_2b729b4bf6f3_d0f2e8b1ab33";
inline constexpr const char* kTlsCurl = "t13d3112h2_e8f1e7e78f70_d41ae481755e";

inline constexpr Client kClients[] = {
    /*0*/ {"Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36", kTlsChrome, true, Family::kAny},
    /*1*/ {"Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36", kTlsChrome, true, Family::kAny},
    /*2*/ {"Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/18.2 Safari/605.1.15", kTlsSafari, true, Family::kAny},
    /*3*/ {"Mozilla/5.0 (iPhone; CPU iPhone OS 18_2 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/18.2 Mobile/15E148 Safari/604.1", kTlsSafari, true, Family::kAny},
    /*4*/ {"Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:134.0) Gecko/20100101 Firefox/134.0", kTlsFirefox, true, Family::kAny},
    /*5*/ {"Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36 Edg/131.0.0.0", kTlsChrome, true, Family::kAny},
    /*6*/ {"Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.6778.135 Mobile Safari/537.36", kTlsChrome, true, Family::kAny},
    /*7*/ {"openai-python/1.54.3", kTlsPythonH2, false, Family::kOpenAi},
    /*8*/ {"openai-python/1.59.7", kTlsPythonH2, false, Family::kOpenAi},
    /*9*/ {"anthropic-sdk-python/0.39.0", kTlsPythonH2, false, Family::kAnthropic},
    /*10*/ {"OpenAI/JS 4.77.0", kTlsNode, false, Family::kOpenAi},
    /*11*/ {"node-fetch/1.0 (+https://github.com/bitinn/node-fetch)", kTlsNode, false, Family::kOpenAi},
    /*12*/ {"python-requests/2.32.3", kTlsPythonH1, false, Family::kOpenAi},
    /*13*/ {"curl/8.5.0", kTlsCurl, false, Family::kOpenAi},
    /*14*/ {"anthropic-sdk-typescript/0.33.1", kTlsNode, false, Family::kAnthropic},
    /*15*/ {"Go-http-client/2.0", kTlsGo, false, Family::kOpenAi},
};
inline constexpr int kBrowserClients[] = {0, 1, 2, 3, 4, 5, 6};
inline constexpr double kBrowserWeights[] = {0.3, 0.15, 0.12, 0.15, 0.08, 0.1, 0.1};
inline constexpr int kSdkClients[] = {7, 8, 9, 10, 11, 12, 14};
inline constexpr double kSdkWeights[] = {0.3, 0.25, 0.15, 0.12, 0.05, 0.08, 0.05};

struct Model {
  const char* name;
  int64_t max_tokens;
  bool reasoning;
  Family family;
};
inline constexpr Model kModels[] = {
    /*0*/ {"gpt-4o-2024-11-20", 16384, false, Family::kOpenAi},
    /*1*/ {"gpt-4o-mini-2024-07-18", 16384, false, Family::kOpenAi},
    /*2*/ {"o3-mini-2025-01-31", 100000, true, Family::kOpenAi},
    /*3*/ {"o1-2024-12-17", 100000, true, Family::kOpenAi},
    /*4*/ {"claude-3-5-sonnet-20241022", 8192, false, Family::kAnthropic},
    /*5*/ {"claude-3-5-haiku-20241022", 8192, false, Family::kAnthropic},
    /*6*/ {"claude-3-7-sonnet-20250219", 64000, true, Family::kAnthropic},
};

inline constexpr const char* kFreeMail[] = {"gmail.com", "gmail.com", "gmail.com", "gmail.com", "outlook.com",
                                            "hotmail.com", "yahoo.com", "icloud.com", "proton.me"};

}  // namespace moat::sim::world
