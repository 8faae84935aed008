#include "moat/text/lexicons.h"

#include <array>
#include <cstdio>
#include <cstring>
#include <string>

#include "moat/core/check.h"
#include "moat/text/normalize.h"

namespace moat::text {
namespace {

using K = LexiconKind;
using S = PatternSyntax;
constexpr uint32_t T(TaskType t) { return static_cast<uint32_t>(t); }
constexpr uint32_t P(Topic t) { return static_cast<uint32_t>(t); }

// Bits per kind fit the PromptFeatures fields.
constexpr uint32_t kKindWidth[] = {64, 64, 32, 32};

constexpr LexiconEntry kEntries[] = {
    // (a) Reasoning elicitation: each entry its own bit.
    {K::kReasoning, 0, "step_by_step", S::kWordList, "step{ |}{by|after}{ |}step"},
    {K::kReasoning, 1, "show_work", S::kWordList,
     "show your work, show all your work, show all work, show your working, show the work, show all working"},
    {K::kReasoning, 2, "show_reasoning", S::kWordList,
     "show {me |}{all |}{of |}{your|the|its} {reasoning|thinking|thought process|logic|steps}"},
    {K::kReasoning, 3, "explain_reasoning", S::kWordList,
     "explain {your|the|all|each|every|all the} {reasoning|thinking|thought process|logic|step|steps}"},
    {K::kReasoning, 4, "chain_of_thought", S::kWordList, "chain of thought, chain of thoughts"},
    {K::kReasoning, 5, "think_carefully", S::kWordList,
     "think carefully, think step, think it through, think this through, think through, think hard, think deeply, "
     "think before you answer, think before answering, let's think, lets think, think out loud, think aloud"},
    {K::kReasoning, 6, "reasoning_process", S::kWordList,
     "reasoning process, thought process, thinking process, reasoning steps, reasoning trace, reasoning chain, "
     "line of reasoning, your reasoning, detailed reasoning, complete reasoning, full reasoning"},
    {K::kReasoning, 7, "walk_through", S::kWordList, "walk {me|us|them|through}"},
    {K::kReasoning, 8, "derivation", S::kWordList, "derivation, derivations, derive it, derive the, full derivation"},
    {K::kReasoning, 9, "justify_steps", S::kWordList,
     "justify {each|every|all|your|the} {step|steps|answer|answers|claim|claims|reasoning|choice|choices}"},
    {K::kReasoning, 10, "each_step", S::kWordList, "{each|every|all|all the|intermediate|individual} {step|steps}"},
    {K::kReasoning, 11, "reason_through", S::kWordList,
     "reason {through|carefully|step|about it|about this|it out}"},
    // "{ |, |}": the words apart, with a comma between, or run together (as \s*,?\s*).
    {K::kReasoning, 12, "think_first", S::kWordList,
     "{first|before answering|before responding|before you answer}{ |, |}{think|reason|explain|analyse|analyze}"},
    {K::kReasoning, 13, "rationale", S::kWordList, "rationale, your justification, explain why each"},
    {K::kReasoning, 14, "think_tags", S::kWordList, "<{/|}{think|thinking|reasoning|scratchpad|thought}>"},
    {K::kReasoning, 15, "internal_reasoning", S::kWordList,
     "internal reasoning, hidden reasoning, inner monologue, scratchpad, private reasoning, reasoning tokens"},
    {K::kReasoning, 16, "break_down", S::kWordList,
     "break {it|this|the problem|the question|that} down, break down {the|this|your}, logical steps"},

    // (b) Max-output / verbatim requests.
    {K::kOutput, 0, "as_detailed_as_possible", S::kWordList,
     "as detailed as possible, as much detail as possible, in as much detail, in great detail, in full detail, "
     "extremely detailed, very detailed, highly detailed, maximum detail, exhaustive, exhaustively"},
    {K::kOutput, 1, "do_not_summarize", S::kWordList,
     "{do not|don't|dont|never|without} {summaris*|summariz*|abbreviat*|shorten*|truncat*|condens*|skip*|omit*}, "
     "{do not|don't|dont|never|without} {leave|leaving} {anything |}out"},
    {K::kOutput, 2, "entire", S::kWordList,
     "{entire|whole|complete|full} {text|response|answer|output|solution|code|document|explanation|content|list|"
     "reasoning|derivation|proof|transcript}"},
    {K::kOutput, 3, "verbatim", S::kWordList,
     "verbatim, word for word, exactly as written, exact wording, reproduce exactly, in full"},
    {K::kOutput, 4, "full_reasoning", S::kWordList,
     "full reasoning, complete reasoning, all of your reasoning, entire reasoning, full chain of thought, "
     "full thought process, complete thought process, all intermediate"},
    // A number is "0" in the scan form; "{0 |0}": the unit apart or attached (\d+\s*).
    {K::kOutput, 5, "at_least_n", S::kWordList,
     "{at least|a minimum of|minimum|minimum of|no fewer than|no less than|more than|over} {0 |0}"
     "{words|tokens|paragraphs|pages|sentences|lines|characters|examples|items|steps}"},
    {K::kOutput, 6, "long_response", S::kWordList,
     "as long as possible, longest possible, maximum length, lengthy, extensive, in depth, thorough, thoroughly, "
     "comprehensive, long form, long-form"},
    {K::kOutput, 7, "nothing_omitted", S::kWordList,
     "every single, leave nothing out, nothing omitted, include everything, include all details, all the details, "
     "no matter how long"},

    // (c) Task types.
    {K::kTask, T(TaskType::kMath), "math", S::kWordList,
     "solve, solve for, equation*, calculate, calculation, compute the, integral*, integrate, derivative*, "
     "differentiate, theorem, prove that, proof, algebra*, arithmetic, probability, simplify the expression, "
     "evaluate the expression, find the value, polynomial*, matrix, matrices, geometry, triangle, fraction*"},
    // Over the scan form: an operator between numbers (a spaced '-' only), x^n.
    {K::kTask, T(TaskType::kMath), "math", S::kRegex, R"(0 [-+*/^=] 0| x \^ 0)"},
    {K::kTask, T(TaskType::kCode), "code", S::kWordList,
     "write a function, write a program, write code, write a script, source code, code snippet, implement*, "
     "python, javascript, typescript, java, c++, c#, golang, rust code, sql, html, css, debug*, refactor*, "
     "unit test*, stack trace, compile error, compiler error, function that, class that, api endpoint, regex, "
     "algorithm, time complexity, bash script"},
    {K::kTask, T(TaskType::kCode), "code", S::kWordList, "```, #include <"},
    // Over the scan form ('_' separates words there): "def name(", "function name(".
    {K::kTask, T(TaskType::kCode), "code", S::kRegex, R"( (?:def|function) [a-z0]+(?: [a-z0]+){0,4} \( )"},
    {K::kTask, T(TaskType::kTranslation), "translation", S::kWordList,
     "translat*, {into|in} {english|french|spanish|german|chinese|mandarin|japanese|korean|russian|arabic|"
     "portuguese|italian|hindi|dutch|turkish|polish|vietnamese}"},
    {K::kTask, T(TaskType::kSummarization), "summarization", S::kWordList,
     "summari*, summary, tl;dr, tldr, key points, main points, condense, synopsis, in a nutshell, recap, "
     "brief overview"},
    {K::kTask, T(TaskType::kExtraction), "classification_extraction", S::kWordList,
     "classify, classification, categori*, label the, label each, sentiment, extract*, named entit*, "
     "which category, tag each, is this spam, parse the following, identify the entities, fill in the fields, "
     "as json"},
    {K::kTask, T(TaskType::kCreativeWriting), "creative_writing", S::kWordList,
     "write a story, short story, a story about, poem, poetry, haiku, sonnet, lyrics, song about, fiction, "
     "screenplay, script for a, fairy tale, limerick, novel, plot, character named, creative writing, fable"},
    // The first word: "\x01" marks the start of the scan form.
    {K::kTask, T(TaskType::kQuestionAnswering), "question_answering", S::kWordList,
     "\x01 {what|who|whom|whose|when|where|why|how|which|is|are|was|were|can|could|does|do|did|should|would|will}"},
    {K::kTask, T(TaskType::kQuestionAnswering), "question_answering", S::kWordList,
     "answer the question, answer this question, answer these questions, answer my question, answer the following"},
    {K::kTask, T(TaskType::kQuestionAnswering), "question_answering", S::kWordList, "question:*"},
    {K::kTask, T(TaskType::kRewriting), "rewriting", S::kWordList,
     "rewrite*, re-write, rephrase*, paraphrase*, reword*, proofread*, edit this, edit the following, "
     "improve this, polish this, make it more formal, make it sound, fix the grammar, correct the grammar, "
     "correct any errors, in simpler terms, simplify this text"},
    {K::kTask, T(TaskType::kMultipleChoice), "multiple_choice", S::kWordList,
     "multiple choice, which of the following, {choose|select|pick} {the |}{correct|best|right|most appropriate}, "
     "answer choices"},
    // Options "a) ... b) ..." (also "(a)", "a.", "a:") within about 200 bytes;
    // the scan form has no line breaks, so any whitespace may precede "b)".
    {K::kTask, T(TaskType::kMultipleChoice), "multiple_choice", S::kRegex, R"( a [).:](?: .{0,240})? b [).:] )"},
    {K::kTask, T(TaskType::kDataGeneration), "data_generation", S::kRegex,
     R"( (?:generate|create|produce|write|give me|list|make|come up with) (?:0|a (?:list|set|dataset|batch) of|several|multiple|many|diverse|varied|a variety of|different) (?:[a-z0]+ ){0,3}(?:examples?|instructions?|questions?|prompts?|samples?|pairs?|records?|entries|tasks?|dialogues?|conversations?|problems?|exercises?|test cases?) )"},
    {K::kTask, T(TaskType::kDataGeneration), "data_generation", S::kWordList,
     "synthetic data, training data, training examples, dataset, fine-tuning data, instruction tuning, "
     "question-answer pairs, jsonl"},
    {K::kTask, T(TaskType::kRolePlay), "role_play", S::kWordList,
     "you are a, you are an, act as, pretend to be, pretend you are, roleplay, role-play, role play, "
     "stay in character, in character, imagine you are, you're a, from now on you are"},

    // (d) Coarse topics: indicative words, any one counts.
    {K::kTopic, P(Topic::kPhysics), "physics", S::kWordList,
     "physics, quantum, momentum, velocity, acceleration, newton*, thermodynamic*, entropy, electromagnet*, "
     "relativity, kinetic energy, potential energy, friction, gravity, gravitational, photon*, particle*, "
     "wavelength, optics, magnetic field, electric field"},
    {K::kTopic, P(Topic::kChemistry), "chemistry", S::kWordList,
     "chemistry, chemical, molecule*, molecular, atom*, reaction*, compound*, stoichiometr*, molar*, acid*, "
     "ph of, oxidation, covalent, ionic bond, periodic table, catalyst*, organic chemistry, polymer*, titration"},
    {K::kTopic, P(Topic::kBiology), "biology", S::kWordList,
     "biology, biological, cell*, dna, rna, gene*, genetic*, protein*, enzyme*, evolution*, species, organism*, "
     "photosynth*, mitosis, meiosis, ecosystem*, bacteria, microb*, neuron*, mitochondri*"},
    {K::kTopic, P(Topic::kMedicine), "medicine", S::kWordList,
     "medicine, medical, disease*, symptom*, diagnos*, treatment*, patient*, clinical, drug*, dosage, "
     "therap*, surgery, surgical, vaccine*, infection*, cancer, diabetes, blood pressure, doctor, physician, "
     "nurse, pharmac*"},
    {K::kTopic, P(Topic::kLaw), "law", S::kWordList,
     "law, laws, legal, legally, court*, statute*, contract*, lawsuit*, liabilit*, attorney*, lawyer*, judge*, "
     "plaintiff*, defendant*, tort*, copyright, trademark, jurisdiction*, constitution*, regulation*, "
     "legislation"},
    {K::kTopic, P(Topic::kFinance), "finance", S::kWordList,
     "finance, financial, stock*, bond yield*, investment*, invest, portfolio*, interest rate*, loan*, "
     "mortgage*, dividend*, asset*, equity, hedge, cryptocurrenc*, bitcoin, tax, taxes, accounting, "
     "balance sheet, cash flow, compound interest"},
    {K::kTopic, P(Topic::kEconomics), "economics", S::kWordList,
     "economics, economic, economy, inflation, gdp, supply and demand, market equilibrium, monetary policy, "
     "fiscal, recession, unemployment, macroeconomic*, microeconomic*, elasticity, trade deficit, tariff*"},
    {K::kTopic, P(Topic::kHistory), "history", S::kWordList,
     "history, historical, histor*, century, centuries, ancient, medieval, empire*, dynasty, revolution, "
     "world war, civil war, cold war, renaissance, colonial*, pharaoh*, roman, ottoman"},
    {K::kTopic, P(Topic::kGeography), "geography", S::kWordList,
     "geography, geographic*, capital of, continent*, countr*, river*, mountain*, ocean*, population of, "
     "climate zone*, latitude, longitude, border*, region*, island*, desert*"},
    {K::kTopic, P(Topic::kProgramming), "programming", S::kWordList,
     "programming, program, code, coding, function, variable*, python, javascript, java, c++, compiler, "
     "algorithm*, data structure*, database*, sql, api, software, debug*, recursion, array*, linked list, "
     "git, docker, kubernetes, framework"},
    {K::kTopic, P(Topic::kMathematics), "mathematics", S::kWordList,
     "math, maths, mathematic*, equation*, integral*, derivative*, calculus, algebra*, geometr*, theorem*, "
     "proof, probabilit*, statistic*, matri*, vector*, polynomial*, prime number*, arithmetic, trigonometr*, "
     "logarithm*, fraction*"},
    {K::kTopic, P(Topic::kPhilosophy), "philosophy", S::kWordList,
     "philosophy, philosophical, ethic*, moral*, metaphysic*, epistemolog*, existential*, kant, plato, "
     "aristotle, nietzsche, utilitarian*, free will, consciousness, ontolog*, stoic*"},
    {K::kTopic, P(Topic::kPsychology), "psychology", S::kWordList,
     "psychology, psychological, cognitive, behavio*, emotion*, anxiety, depression, mental health, "
     "personality, motivation, therapy, therapist, trauma, memory, perception, cognitive bias*"},
    {K::kTopic, P(Topic::kLiterature), "literature", S::kWordList,
     "literature, literary, novel*, poem*, poet*, author*, shakespeare, metaphor*, protagonist*, narrative, "
     "theme of, symbolism, book*, chapter*, essay*, fiction"},
    {K::kTopic, P(Topic::kArts), "arts", S::kWordList,
     "art, artist*, painting*, sculpture*, museum*, music, musical, song*, melody, chord*, composer*, "
     "symphon*, guitar, piano, photograph*, drawing, design*"},
    {K::kTopic, P(Topic::kSports), "sports", S::kWordList,
     "sport*, football, soccer, basketball, baseball, tennis, cricket, olympic*, athlete*, tournament*, "
     "championship*, coach*, player*, league*, marathon, workout*, fitness, exercise routine"},
    {K::kTopic, P(Topic::kPolitics), "politics", S::kWordList,
     "politic*, government*, election*, vote*, voting, democra*, parliament*, congress, senate, president*, "
     "prime minister, policy, policies, diplomac*, geopolitic*, campaign*, ideolog*"},
    {K::kTopic, P(Topic::kReligion), "religion", S::kWordList,
     "religion*, religious, god, gods, church*, bible, biblical, quran, islam*, christian*, buddhis*, "
     "hindu*, jewish, judaism, theolog*, spiritual*, prayer*, mytholog*"},
    {K::kTopic, P(Topic::kComputingHardware), "computing_hardware", S::kWordList,
     "cpu, gpu, processor*, hardware, semiconductor*, transistor*, circuit*, memory chip*, motherboard, "
     "operating system*, linux, windows, network*, router*, internet, bandwidth, server*, cloud computing, "
     "machine learning, neural network*, artificial intelligence"},
    {K::kTopic, P(Topic::kEnvironment), "environment", S::kWordList,
     "environment*, climate change, global warming, carbon, emission*, pollution, renewable*, solar power, "
     "wind power, sustainab*, recycl*, biodiversity, deforestation, greenhouse"},
    {K::kTopic, P(Topic::kAstronomy), "astronomy", S::kWordList,
     "astronom*, planet*, star*, galax*, universe, cosmolog*, black hole*, telescope*, orbit*, solar system, "
     "moon, nasa, astronaut*, supernova*, exoplanet*, big bang"},
    {K::kTopic, P(Topic::kEngineering), "engineering", S::kWordList,
     "engineering, engineer*, mechanical, civil engineering, structural, electrical engineering, "
     "load bearing, beam*, torque, voltage, resistor*, capacitor*, manufactur*, cad, tolerance*, bridge*"},
    {K::kTopic, P(Topic::kEducation), "education", S::kWordList,
     "education*, school*, student*, teacher*, teaching, curriculum, lesson plan*, classroom*, universit*, "
     "college*, exam*, homework, grade*, learning objective*"},
    {K::kTopic, P(Topic::kBusiness), "business", S::kWordList,
     "business*, marketing, startup*, company, companies, customer*, sales, revenue, profit*, brand*, "
     "strategy, management, manager*, employee*, entrepreneur*, product launch, business plan, competitor*"},
    {K::kTopic, P(Topic::kFood), "food", S::kWordList,
     "food*, recipe*, cook*, bake, baking, ingredient*, meal*, dish, dishes, cuisine*, nutrition*, calorie*, "
     "vegetarian, vegan, dessert*, restaurant*, flavor*, flavour*"},
    {K::kTopic, P(Topic::kTravel), "travel", S::kWordList,
     "travel*, trip*, vacation*, holiday*, itinerar*, tourist*, tourism, hotel*, flight*, airport*, "
     "passport*, visa, sightseeing, backpack*, destination*"},
    {K::kTopic, P(Topic::kLinguistics), "linguistics", S::kWordList,
     "linguistic*, language*, grammar*, syntax, semantic*, phonetic*, vocabular*, etymolog*, dialect*, "
     "verb*, noun*, adjective*, pronunciation, idiom*, translat*"},
    {K::kTopic, P(Topic::kEntertainment), "entertainment", S::kWordList,
     "movie*, film*, tv show*, television, series, netflix, actor*, actress*, celebrit*, video game*, "
     "gaming, anime, comic*, episode*, streaming, youtube"},
};

}  // namespace

std::span<const LexiconEntry> DefaultLexiconEntries() { return kEntries; }

Result<Lexicons> Lexicons::Compile(std::span<const LexiconEntry> entries) {
  std::vector<PatternSpec> specs;
  specs.reserve(entries.size());
  for (const LexiconEntry& e : entries) {
    const auto kind = static_cast<uint32_t>(e.kind);
    if (kind > 3 || e.bit >= kKindWidth[kind]) {
      return Status::Error("lexicons: entry '" + std::string(e.name) + "' has bit " + std::to_string(e.bit) +
                           " outside its kind");
    }
    specs.push_back(PatternSpec{kind * 64 + e.bit, std::string(e.expression), e.syntax});
  }
  Result<PatternSet> set = PatternSet::Compile(specs, PatternSetOptions{.scan_form = true});
  if (!set.ok()) return Status::Error("lexicons: " + set.status().message());
  Lexicons lexicons(std::move(set).value());
  lexicons.entries_.assign(entries.begin(), entries.end());
  return lexicons;
}

namespace {

PromptFeatures FromMask(const PatternMask& m) {
  PromptFeatures f;
  f.reasoning_mask = m.words[0];
  f.output_mask = m.words[1];
  f.task_mask = static_cast<uint32_t>(m.words[2]);
  f.topic_mask = static_cast<uint32_t>(m.words[3]);
  return f;
}

bool AllAscii(std::string_view s) {
  const char* p = s.data();
  size_t n = s.size();
  uint64_t acc = 0;
  while (n >= 8) {
    uint64_t w;
    std::memcpy(&w, p, 8);
    acc |= w;
    p += 8;
    n -= 8;
  }
  while (n--) acc |= static_cast<unsigned char>(*p++);
  return (acc & 0x8080808080808080ULL) == 0;
}

}  // namespace

PromptFeatures Lexicons::Analyze(std::string_view prompt) const {
  // ASCII: the scan form of the raw text is that of its normal form.
  if (AllAscii(prompt)) return FromMask(set_.ScanAll(prompt));
  thread_local std::string normal;
  constexpr size_t kHead = PatternSet::kHeadBytes, kTail = PatternSet::kTailBytes;
  if (prompt.size() <= kHead + kTail) {
    Normalize(prompt, normal);
    return FromMask(set_.ScanAll(normal));
  }
  // Cut first so the cost stays bounded, then normalise each part.
  Normalize(prompt.substr(0, kHead), normal);
  PatternMask m = set_.ScanAll(normal);
  Normalize(prompt.substr(prompt.size() - kTail), normal);
  const PatternMask t = set_.ScanAllContinued(normal);
  for (size_t i = 0; i < m.words.size(); ++i) m.words[i] |= t.words[i];
  return FromMask(m);
}

PromptFeatures Lexicons::AnalyzeNormalized(std::string_view normalized) const {
  return FromMask(set_.ScanAll(normalized));
}

std::string_view Lexicons::Name(LexiconKind kind, uint32_t bit) const {
  for (const LexiconEntry& e : entries_) {
    if (e.kind == kind && e.bit == bit) return e.name;
  }
  return {};
}

const Lexicons& DefaultLexicons() {
  static const Lexicons lexicons = [] {
    Result<Lexicons> compiled = Lexicons::Compile(DefaultLexiconEntries());
    if (!compiled.ok()) std::fprintf(stderr, "%s\n", compiled.status().message().c_str());
    MOAT_CHECK(compiled.ok());
    return std::move(compiled).value();
  }();
  return lexicons;
}

}  // namespace moat::text
