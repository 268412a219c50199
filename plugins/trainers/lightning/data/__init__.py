"""Training data: objects written by ``lrmzero generate`` (folders, shards, data sources) read as batches
of the model contract (input views, their Plucker rays and cameras) plus target views.

``sources`` finds and mixes the objects, ``views`` reads their images, ``dataset`` makes items and batches
of them, ``sampler`` orders them for a run, ``datamodule`` serves them to Lightning, ``startup_check``
checks them before the first step, ``batches`` gives the same stream to a training loop of your own.
"""
