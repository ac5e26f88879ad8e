"""The machine line of the benchmark tables: CPU model, cores and the bf16 instructions that
decide which precision ftengine resolves (bench/train_vs_torch.sh, bench/padding.sh)."""
import os


def cpu():
    """(model name, set of /proc/cpuinfo flags)."""
    model, flags = "unknown CPU", set()
    for line in open("/proc/cpuinfo"):
        if line.startswith("model name") and model == "unknown CPU":
            model = line.split(":", 1)[1].strip()
        if line.startswith("flags"):
            flags = set(line.split(":", 1)[1].split())
    return model, flags


def describe():
    """'Intel(R) Xeon(R) ..., 2 cores, AVX512-BF16 no' (plus ', AMX-BF16 yes' where present)."""
    model, flags = cpu()
    amx = ", AMX-BF16 yes" if "amx_bf16" in flags else ""
    return (f"{model}, {os.cpu_count()} cores, "
            f"AVX512-BF16 {'yes' if 'avx512_bf16' in flags else 'no'}{amx}")
