"""Family 7: variational bottleneck. An encoder layer (relu, 64 wide) then mu and
log-variance heads; z = mu + exp(0.5 logvar) * eps; KL(q(z|x) || N(0, I)) as the
second output. eps is an input, or (the "random" variant) drawn inside the graph by
a RandomNormalLike node with a fixed seed; that z is then rtml's own draw and has no
expected data.
"""
import torch

from common import ZooModel, sets_for

HIDDEN = 64
FEATURES = (16, 128)
LATENTS = (4, 16, 64)
DEFAULT = {"vae_f64_z8", "vae_random_f64_z32"}


class Bottleneck(torch.nn.Module):
    def __init__(self, f, z, random):
        super().__init__()
        self.random = random
        self.enc = torch.nn.Linear(f, HIDDEN)
        self.mu = torch.nn.Linear(HIDDEN, z)
        self.logvar = torch.nn.Linear(HIDDEN, z)

    def forward(self, x, *eps):
        h = torch.relu(self.enc(x))
        mu, logvar = self.mu(h), self.logvar(h)
        noise = torch.randn_like(mu) if self.random else eps[0]
        z = mu + torch.exp(0.5 * logvar) * noise
        kl = -0.5 * torch.sum(1.0 + logvar - mu * mu - torch.exp(logvar), dim=-1)
        return z, kl, mu, logvar


def models():
    out = []
    configs = [(f, z) for f in FEATURES for z in LATENTS] + [(64, 8), (64, 32)]
    for random in (False, True):
        for f, z in configs:
            name = f"vae{'_random' if random else ''}_f{f}_z{z}"
            inputs = {"x": (1, f)} if random else {"x": (1, f), "eps": (1, z)}
            out.append(ZooModel(
                name=name, family="vae",
                description=f"variational bottleneck {f} -> {z}: mu, log-variance, z = mu + exp(logvar/2) * eps "
                            + ("(eps from a seeded RandomNormalLike)" if random else "(eps an input)")
                            + ", KL divergence",
                params={"features": f, "latent": z, "hidden": HIDDEN, "noise": "graph" if random else "input"},
                build=lambda f=f, z=z, random=random: Bottleneck(f, z, random),
                inputs=inputs, outputs=["z", "kl", "mu", "logvar"],
                stochastic_outputs=("z",) if random else (), seed_random_ops=random,
                sets=sets_for(name, DEFAULT), streaming=True))
    return out
