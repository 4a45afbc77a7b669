"""The zoo's model families, in manifest order. Each module's models() returns ZooModels."""
from . import matvec, conv1d, rnn, mlp, transformer, mdn, vae, trained, patterns

FAMILIES = [matvec, conv1d, rnn, mlp, transformer, mdn, vae, trained, patterns]


def all_models():
    models = [m for fam in FAMILIES for m in fam.models()]
    names = [m.name for m in models]
    dup = {n for n in names if names.count(n) > 1}
    if dup:
        raise RuntimeError(f"zoo model names defined twice: {sorted(dup)}")
    return models
