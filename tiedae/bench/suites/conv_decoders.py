r"""Suite `conv-decoders`: post 003's Keras vs MATLAB CAE, and ConvAE's decoders, trained.

Post 003 asks whether a convolutional autoencoder's decoder must mirror its encoder, and whether
upsampling + convolution is the same as a transposed convolution. The suite trains

* post 003's two nets as the posts build them (`tiedae.bench.suites.conv_models`): the Keras
  blog's CAE (upsampling decoder, trained on binary cross-entropy as the blog does) and
  MATLAB's (transposed convolutions, squared error);
* `tiedae.ConvAE` (two stride-2 convolutions, 16 and 4 channels) with each decoder of
  `tiedae.nonlinear.conv.CONV_DECODERS`: a transposed convolution with its own kernel, nearest
  upsampling + convolution, the tied decoder (the encoder's exact adjoint), and bilinear
  upsampling + convolution; for the kernel sizes `KERNELS` (2: the stride divides it, 3: it
  does not).

Each model is trained by one recipe (`tiedae.bench.suites.conv_training`): its peak step size
chosen from the log grid `LEARNING_RATES` on a validation split carved from the training images
(seed 0), Adam with a warm-up and a cosine decay up to a step cap, ``converged`` recorded per
run; then the checkerboard shares of the decoded images, of the input gradients and of the test
images themselves are measured. A seed sets the initial weights and the minibatch order (the
data split is fixed), so the seeds pair the models. `tiedae.bench.suites.conv_analysis` turns
the records into tables, tests and text.

Budget. With MNIST (``--data``) a run uses 1000 training images (200 of them validate, 800 are
fitted) and 500 test images, minibatches of 64, and `FULL_STEPS` steps: 800 for post 003's nets
(64 epochs of the 800 images, at least the Keras blog's 50 epochs, `conv_records.BLOG_EPOCHS`:
a post net that has not converged by then is compared at that budget, as issue 17 allows),
400 for ConvAE's (32 epochs). Each of the 10 models trains 4 step sizes on the first seed and
its choice on 4 more: 80 runs, planned to take at most 30 minutes on 2 free CPU cores (the
records' ``wall_time_s`` and ``ms_per_step`` say what they took; `python -m tiedae.bench list
--results DIR` sums them). On XLA:CPU a model with convolutions takes one step per call
(convolutions inside a while loop run several times slower, `tiedae.training.step.fuses_well`),
so the cost is the steps' own. The quick run (``--suite conv-decoders`` without ``--full``)
trains the posts' two nets on 256 images for 60 steps at each step size: a smoke test of every
measurement.

Example:
  >>> from tiedae.bench.suite import Options
  >>> from tiedae.bench.suites import conv_decoders
  >>> configs = conv_decoders.configs(Options(quick=False))
  >>> len(configs), configs[0]["run_id"], configs[0]["learning_rates"], configs[0]["steps"]
  (50, 'full-keras_cae-s0', [0.003, 0.01, 0.03, 0.1], 800)
"""

from __future__ import annotations

from tiedae.bench.datasets import image_config
from tiedae.bench.suite import Options, Suite
from tiedae.bench.suite import seeds as seed_list
from tiedae.bench.suites import conv_analysis, conv_training
from tiedae.bench.suites.conv_models import POST_MODELS, post_003_model
from tiedae.bench.suites.conv_records import collapsed, label
from tiedae.bench.suites.conv_training import N_IMAGES
from tiedae.nonlinear.conv import CONV_DECODERS

__all__ = ["FULL_STEPS", "KERNELS", "N_IMAGES", "POST_LOSSES", "POST_MODELS", "SUITE",
           "collapsed", "configs", "label", "post_003_model", "run"]

# The loss each post model trains on (the others: the squared error).
POST_LOSSES = {"keras_cae": "binary_cross_entropy"}
KERNELS = (2, 3)
# Step caps of the full runs (minibatches of 64): post 003's nets train slower per step and
# converge later than ConvAE's, so they get twice the steps (pairs never cross the groups).
FULL_STEPS = {"post": 800, "convae": 400}
# Four log-spaced peak step sizes: with three (up to 3e-2) several models chose the largest.
LEARNING_RATES = [3e-3, 1e-2, 3e-2, 1e-1]
LOG_POINTS = 40  # logged points per run (the convergence check reads the validation curve)


def configs(options: Options) -> list[dict]:
    """The runs: quick, post 003's two recipes on 2 seeds; full, the models of the module
    docstring on 5 seeds (every model's step size chosen on the first)."""
    tag = "quick" if options.quick else "full"
    base = {**image_config(options), "validation_fraction": 0.2, "stride": 2,
            "batch_size": 32 if options.quick else 64, "learning_rates": LEARNING_RATES,
            "lr_seed": options.seed, "warmup": 0.05,
            "channels": [8, 4] if options.quick else [16, 4], "monitor_rows": 128,
            "n_measure": 200 if options.quick else 500, "first_seed": options.seed}
    if options.mnist:  # the runs are step-bound: more images would only mean fewer epochs
        base.update(n_train=1000, n_test=500)
    if options.quick:  # a smoke test of every measurement: small splits, the posts' nets
        base.update(n_train=256, n_test=128, n_measure=128)
    # quick: the posts' two recipes only (MATLAB's decoder is a transposed convolution,
    # Keras's an upsampling + convolution); full: also ConvAE's decoders per kernel size.
    # ``keras_cae_squared`` (the Keras net on the squared error) is not run: a model id
    # that `conv_models.build` and the analysis still know.
    models = [(m, None, None) for m in ("keras_cae", "matlab_cae")]
    if not options.quick:
        models += [(f"{dec}-k{k}", dec, k) for dec in CONV_DECODERS for k in KERNELS]

    def steps(dec):
        return 60 if options.quick else FULL_STEPS["post" if dec is None else "convae"]
    return [{**base, "run_id": f"{tag}-{model}-s{seed}", "model": model, "decoder": dec,
             "kernel_size": k, "seed": seed, "loss": POST_LOSSES.get(model, "squared_error"),
             "steps": steps(dec), "eval_every": max(1, steps(dec) // (
                 20 if options.quick else LOG_POINTS))}
            for seed in seed_list(options, quick=2, full=5) for model, dec, k in models]


def run(config: dict) -> dict:
    """One run: `tiedae.bench.suites.conv_training.train`."""
    return conv_training.train(config)


# Compiling its models takes most of a quick run: not in the default; `--suite conv-decoders`.
SUITE = Suite("conv-decoders", "post 003's Keras vs MATLAB CAE and ConvAE decoders (transposed, "
              "upsample+conv, tied, bilinear+conv; kernels 2/3), each at its own step size "
              "with convergence checked: reconstruction and checkerboard energy vs the test "
              "images'", configs, run, conv_analysis.analyze, in_quick=False)
