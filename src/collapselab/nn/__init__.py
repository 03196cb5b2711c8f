"""Shared torch blocks: MLP, ConvNet, LeNet, a decoder-only transformer with pluggable attention,
and the one training loop (:class:`Trainer`, configured by :class:`TrainConfig`) with its trainers
:func:`fit` (classifiers), :func:`train_steps` (any per-batch loss) and :func:`train_decoder`
(decoder-only LMs), and :func:`fused_for_inference` (batch norm folded into convolutions)."""

from collapselab.nn.attention import ATTENTIONS, get_attention, register_attention
from collapselab.nn.batched import Replicates, decoder_replicates, fit_replicates, stacked_forward, train_replicates
from collapselab.nn.inference import fused_for_inference, prefers_channels_last
from collapselab.nn.init import init_parameters
from collapselab.nn.lm_train import DECODER, epoch_sampler, train_decoder, train_steps
from collapselab.nn.loop import (
    TrainConfig,
    Trainer,
    TrainHistory,
    autocast,
    lr_at,
    make_optimizer,
    param_groups,
)
from collapselab.nn.models import MLP, ConvNet, LeNet
from collapselab.nn.train import FIT, accuracy, fit, iterate_minibatches, predict_logits
from collapselab.nn.transformer import DecoderLM, sequence_loss

__all__ = ["ATTENTIONS", "DECODER", "FIT", "MLP", "ConvNet", "DecoderLM", "LeNet", "TrainConfig", "TrainHistory",
           "Trainer", "Replicates", "decoder_replicates", "fit_replicates", "train_replicates",
           "accuracy", "autocast", "epoch_sampler", "fit", "fused_for_inference", "get_attention", "init_parameters",
           "iterate_minibatches", "lr_at", "make_optimizer", "param_groups", "predict_logits", "prefers_channels_last",
           "register_attention", "sequence_loss", "stacked_forward", "train_decoder", "train_steps"]
