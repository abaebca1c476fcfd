"""Shared helpers for the notebook series "The variational autoencoder from first principles".

Notebooks import each module they use (``import helpers.vae``) and call it by its full name
(``helpers.vae.negative_elbo``), so every call says where its code lives. Each function's
docstring names the notebook that explains the idea. Importing a module does no work: nothing
touches the disk or the network until a function is called.

Modules by layer, bottom to top; a module imports only from layers below it
(``tests/test_layers.py`` checks this):

====  ==============  ==========================================================  ==========
layer module          what it holds                                               taught in
====  ==============  ==========================================================  ==========
0     ``_checks``     argument checks shared by every module (private)            —
0     ``paths``       where the series keeps downloads and checkpoints            00
1     ``download``    IDX decoding, SHA-256, verified atomic downloads, errors    00
2     ``data``        finding MNIST, the offline fallback, loading, binarizing    00, 01, 06
3     ``models``      MLP, MLP and convolutional autoencoders, squared error      01, 02
3     ``vi``          Gaussian and Bernoulli log densities, Gaussian KL,          05
                      reparameterization, score-function and reparameterization
                      gradient estimators
4     ``training``    the one training loop, evaluation, learning-rate schedule   01, 02
4     ``gmm``         EM for a Gaussian mixture (E-step, M-step, ELBO)            03
4     ``vae``         the VAE, its ELBO, importance-weighted bounds, pPCA,        06
                      active units
5     ``recipes``     one frozen recipe type for every trained model, training    02, 06, 07
                      entry points, atomic checkpoints, load-or-train
5     ``quality``     the series' sample-quality measure: a digit classifier's    —
                      confidence and class histogram, nearest-image distance
6     ``plotting``    image grids, learning curves, latent scatters, colours      all
7     ``widgets``     latent-space explorers built from plain functions           07
8     ``notebook``    the first cell of every notebook: seeds, device, style      00
====  ==============  ==========================================================  ==========
"""

__version__ = "0.1.0"
