#include "engine/tokenizer/pre_tokenizer.hpp"

namespace ft::engine::tok {

namespace {

void replace_all(std::string_view text, std::string_view from, std::string_view to,
                 std::string& out) {
  out.clear();
  for (std::size_t at = 0;;) {
    const std::size_t hit = from.empty() ? std::string_view::npos : text.find(from, at);
    if (hit == std::string_view::npos) {
      out.append(text.substr(at));
      return;
    }
    out.append(text.substr(at, hit - at)).append(to);
    at = hit + from.size();
  }
}

// One Split step on one piece. Segments are the matches and the gaps between them; a
// delimiter is a match (or, inverted, a gap).
void split_piece(const SplitStep& step, std::string_view piece,
                 std::vector<std::string_view>& out) {
  thread_local std::vector<Span> matches;
  matches.clear();
  step.regex->find_all(piece, matches);
  if (step.behavior == SplitBehavior::isolated) {  // the hot path: every segment is a piece
    std::size_t at = 0;
    for (const Span& m : matches) {
      if (m.begin > at) out.push_back(piece.substr(at, m.begin - at));
      out.push_back(piece.substr(m.begin, m.end - m.begin));
      at = m.end;
    }
    if (at < piece.size()) out.push_back(piece.substr(at));
    return;
  }

  struct Segment {
    std::size_t begin, end;
    bool delimiter;
  };
  std::vector<Segment> segments;
  std::size_t at = 0;
  for (const Span& m : matches) {
    if (m.begin > at) segments.push_back({at, m.begin, step.invert});
    segments.push_back({m.begin, m.end, !step.invert});
    at = m.end;
  }
  if (at < piece.size()) segments.push_back({at, piece.size(), step.invert});

  std::vector<Span> pieces;  // built from adjacent segments, so each is a substring
  bool glue_next = false;    // merged_with_next: the last piece waits for what follows
  for (const Segment& s : segments) {
    switch (step.behavior) {
      case SplitBehavior::removed:
        if (!s.delimiter) pieces.push_back({s.begin, s.end});
        break;
      case SplitBehavior::isolated:
        pieces.push_back({s.begin, s.end});
        break;
      case SplitBehavior::merged_with_previous:
        if (s.delimiter && !pieces.empty())
          pieces.back().end = s.end;
        else
          pieces.push_back({s.begin, s.end});
        break;
      case SplitBehavior::merged_with_next:
        if (glue_next)
          pieces.back().end = s.end;
        else
          pieces.push_back({s.begin, s.end});
        glue_next = s.delimiter;
        break;
      case SplitBehavior::contiguous:
        if (s.delimiter && glue_next)
          pieces.back().end = s.end;
        else
          pieces.push_back({s.begin, s.end});
        glue_next = s.delimiter;
        break;
    }
  }
  for (const Span& p : pieces) out.push_back(piece.substr(p.begin, p.end - p.begin));
}

void metaspace_piece(const MetaspaceStep& step, std::string_view piece, bool at_start,
                     bool continuation, std::vector<std::string_view>& out,
                     std::deque<std::string>& storage) {
  std::string& text = storage.emplace_back();
  replace_all(piece, " ", step.replacement, text);
  const bool starts_with_replacement = std::string_view(text).starts_with(step.replacement);
  if (!starts_with_replacement && !continuation &&
      (step.prepend == PrependScheme::always || (step.prepend == PrependScheme::first && at_start)))
    text.insert(0, step.replacement);
  if (!step.split) {
    out.push_back(text);
    return;
  }
  // Split before every replacement character, which stays with the piece it starts.
  const std::string_view view = text;
  std::size_t begin = 0;
  for (std::size_t hit = view.find(step.replacement, 1); hit != std::string_view::npos;
       hit = view.find(step.replacement, hit + step.replacement.size())) {
    if (hit > begin) out.push_back(view.substr(begin, hit - begin));
    begin = hit;
  }
  if (begin < view.size()) out.push_back(view.substr(begin));
}

}  // namespace

void Normalizer::add_prepend(std::string prefix) {
  steps_.push_back({Step::Kind::prepend, std::move(prefix), {}, nullptr});
}

void Normalizer::add_replace(std::string literal, std::string content) {
  steps_.push_back({Step::Kind::replace, std::move(literal), std::move(content), nullptr});
}

void Normalizer::add_replace_regex(std::shared_ptr<const Regex> pattern, std::string content) {
  steps_.push_back({Step::Kind::replace_regex, {}, std::move(content), std::move(pattern)});
}

std::string_view Normalizer::apply(std::string_view text, std::string& storage,
                                   bool continuation) const {
  if (steps_.empty()) return text;
  std::string current(text), next;
  for (const Step& step : steps_) {
    switch (step.kind) {
      case Step::Kind::prepend:
        if (!current.empty() && !continuation) current.insert(0, step.a);  // HF: "" stays ""
        continue;
      case Step::Kind::replace:
        replace_all(current, step.a, step.b, next);
        break;
      case Step::Kind::replace_regex: {
        std::vector<Span> matches;
        step.regex->find_all(current, matches);
        next.clear();
        std::size_t at = 0;
        for (const Span& m : matches) {
          next.append(current, at, m.begin - at).append(step.b);
          at = m.end;
        }
        next.append(current, at);
        break;
      }
    }
    current.swap(next);
  }
  storage = std::move(current);
  return storage;
}

void PreTokenizer::split(std::string_view text, bool at_start,
                         std::vector<std::string_view>& pieces,
                         std::deque<std::string>& storage, bool continuation) const {
  const std::size_t first = pieces.size();
  if (!text.empty()) pieces.push_back(text);
  std::vector<std::string_view> next;
  for (const Step& step : steps_) {
    next.clear();
    for (std::size_t i = first; i < pieces.size(); ++i) {
      const std::string_view piece = pieces[i];
      if (const auto* s = std::get_if<SplitStep>(&step)) {
        split_piece(*s, piece, next);
      } else if (std::holds_alternative<PrefixSpaceStep>(step)) {
        // HF ByteLevel add_prefix_space: a space in front unless there is one already.
        if (piece.starts_with(' ') || (continuation && i == first)) {
          next.push_back(piece);
        } else {
          std::string& spaced = storage.emplace_back(" ");
          spaced.append(piece);
          next.push_back(spaced);
        }
      } else {
        metaspace_piece(std::get<MetaspaceStep>(step), piece, at_start && i == first,
                        continuation && i == first, next, storage);
      }
    }
    pieces.resize(first);
    pieces.insert(pieces.end(), next.begin(), next.end());
  }
}

}  // namespace ft::engine::tok
