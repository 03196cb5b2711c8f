"""Shared torch blocks: MLP, ConvNet, LeNet, a decoder-only transformer with pluggable attention,
and a plain training loop."""

from collapselab.nn.attention import ATTENTIONS, get_attention, register_attention
from collapselab.nn.init import init_parameters
from collapselab.nn.lm_train import LMTrainResult, train_lm
from collapselab.nn.models import MLP, ConvNet, LeNet
from collapselab.nn.train import accuracy, fit, iterate_minibatches, predict_logits
from collapselab.nn.transformer import DecoderLM, sequence_loss

__all__ = ["ATTENTIONS", "MLP", "ConvNet", "DecoderLM", "LMTrainResult", "LeNet", "accuracy", "fit",
           "get_attention", "init_parameters", "iterate_minibatches", "predict_logits", "register_attention",
           "sequence_loss", "train_lm"]
