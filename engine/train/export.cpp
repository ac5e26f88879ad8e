#include "engine/train/export.hpp"

#include <fmt/format.h>

#include "engine/export/gguf_export.hpp"
#include "ftengine/io/model_dir.hpp"
#include "ftengine/log.hpp"

namespace ft::engine {

namespace fs = std::filesystem;

namespace {

// Replaces `target` with `written` (both in the run directory).
void move_into_place(const fs::path& written, const fs::path& target) {
  fs::remove_all(target);
  fs::rename(written, target);
}

}  // namespace

ExportedRun export_run(const Job& job, Adapter& adapter, Model& model, const Tokenizer& tokenizer) {
  const fs::path run = job.output.dir;
  const fs::path tmp = run / ".tmp-export";
  fs::remove_all(tmp);
  fs::create_directories(tmp);
  adapter.save(tmp, {.base_model_dir = job.model.path,
                     .base_model_name_or_path = job.model.path.string(),
                     .dtype = job.model.dtype});
  const bool whole_model = fs::exists(tmp / "config.json");
  ExportedRun out;
  out.result = run / (whole_model ? "model" : "adapter");
  move_into_place(tmp, out.result);

  bool merged = whole_model;  // a whole trained model needs no merging
  if (job.output.save_merged) {
    if (whole_model) {
      log::info("output.save_merged: {} already is the whole trained model; nothing to merge",
                out.result.string());
    } else {
      const fs::path merged_tmp = run / ".tmp-merged";
      fs::remove_all(merged_tmp);
      adapter.merge();
      merged = true;
      io::write_model_directory(model, job.model.path, merged_tmp, job.model.dtype);
      out.merged = run / "merged";
      move_into_place(merged_tmp, *out.merged);
    }
  }
  if (job.output.gguf) {
    if (!merged) adapter.merge();
    out.gguf = run / fmt::format("{}-f16.gguf", job.name);
    export_gguf(model, job.model.path, tokenizer, *out.gguf,
                {.type = GgmlType::f16, .name = job.name});
  }
  return out;
}

}  // namespace ft::engine
