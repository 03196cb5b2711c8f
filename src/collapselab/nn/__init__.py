"""Shared torch blocks: MLP, ConvNet, LeNet, a decoder-only transformer with pluggable attention,
non-overlapping pooling as strided slices (:class:`AvgPool2d`, :class:`MaxPool2d`), and the one training
loop (:class:`Trainer`, configured by :class:`TrainConfig`) with its trainers :func:`fit` (classifiers),
:func:`train_steps` (any per-batch loss) and :func:`train_decoder` (decoder-only LMs), and
:func:`fused_for_inference` (batch norm folded into convolutions)."""

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
from collapselab.nn.pool import AvgPool2d, MaxPool2d, avg_pool_blocks, max_pool_blocks
from collapselab.nn.train import FIT, accuracy, fit, iterate_minibatches, predict_logits
from collapselab.nn.transformer import DecoderLM, sequence_loss

__all__ = ["ATTENTIONS", "DECODER", "FIT", "MLP", "AvgPool2d", "ConvNet", "DecoderLM", "LeNet", "MaxPool2d",
           "TrainConfig", "TrainHistory", "Trainer", "Replicates", "decoder_replicates", "fit_replicates",
           "train_replicates", "accuracy", "autocast", "avg_pool_blocks", "epoch_sampler", "fit",
           "fused_for_inference", "get_attention", "init_parameters", "iterate_minibatches", "lr_at",
           "make_optimizer", "max_pool_blocks", "param_groups", "predict_logits", "prefers_channels_last",
           "register_attention", "sequence_loss", "stacked_forward", "train_decoder", "train_steps"]
