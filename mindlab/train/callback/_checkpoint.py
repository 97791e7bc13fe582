"""``ModelCheckpoint`` and ``CheckpointConfig``: save the training network (weights and optimizer state) every N
steps or seconds, keeping the newest few files."""
import os
import re
import time

from ...nn.cell import Cell
from ..serialization import save_checkpoint
from ._callback import Callback

__all__ = ["CheckpointConfig", "ModelCheckpoint"]


def _positive_int_or_none(value, what):
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise ValueError(f"CheckpointConfig: {what} must be an int >= 0 or None, got {value!r}")
    return value or None


class CheckpointConfig:
    """When and what ``ModelCheckpoint`` saves.

    ``save_checkpoint_steps``: save every this many steps (default 1). ``save_checkpoint_seconds``: or every this
    many seconds (0 / None: off; steps take precedence when both are set). ``keep_checkpoint_max``: keep at most
    this many of the newest files this callback wrote (older ones are deleted). ``saved_network``: a Cell to save
    instead of the training network. ``append_info``: extra entries saved with each file: the strings
    "epoch_num" / "step_num" and/or a dict {name: int / float / bool / str / Tensor}. ``integrated_save`` and
    ``async_save`` are passed to ``save_checkpoint``.
    """

    def __init__(self, save_checkpoint_steps=1, save_checkpoint_seconds=0, keep_checkpoint_max=5,
                 integrated_save=True, async_save=False, saved_network=None, append_info=None):
        self.save_checkpoint_steps = _positive_int_or_none(save_checkpoint_steps, "save_checkpoint_steps")
        self.save_checkpoint_seconds = _positive_int_or_none(save_checkpoint_seconds, "save_checkpoint_seconds")
        if self.save_checkpoint_steps is None and self.save_checkpoint_seconds is None:
            raise ValueError("CheckpointConfig: save_checkpoint_steps and save_checkpoint_seconds cannot both be "
                             "off")
        if self.save_checkpoint_steps is not None:
            self.save_checkpoint_seconds = None
        if isinstance(keep_checkpoint_max, bool) or not isinstance(keep_checkpoint_max, int) or \
                keep_checkpoint_max < 1:
            raise ValueError(f"CheckpointConfig: keep_checkpoint_max must be a positive int, got "
                             f"{keep_checkpoint_max!r}")
        self.keep_checkpoint_max = keep_checkpoint_max
        if saved_network is not None and not isinstance(saved_network, Cell):
            raise TypeError(f"CheckpointConfig: saved_network must be a Cell, got {type(saved_network).__name__}")
        self.saved_network = saved_network
        self.integrated_save, self.async_save = bool(integrated_save), bool(async_save)
        self.append_info = self._check_append_info(append_info)

    @staticmethod
    def _check_append_info(info):
        if info is None:
            return []
        items = list(info) if isinstance(info, (list, tuple)) else [info]
        for item in items:
            if isinstance(item, str) and item not in ("epoch_num", "step_num"):
                raise ValueError(f"CheckpointConfig: append_info strings must be 'epoch_num' or 'step_num', got "
                                 f"{item!r}")
            if not isinstance(item, (str, dict)):
                raise TypeError(f"CheckpointConfig: append_info holds 'epoch_num', 'step_num' and dicts, got "
                                f"{type(item).__name__}")
        return items

    def get_checkpoint_policy(self):
        return {"save_checkpoint_steps": self.save_checkpoint_steps,
                "save_checkpoint_seconds": self.save_checkpoint_seconds,
                "keep_checkpoint_max": self.keep_checkpoint_max}


class ModelCheckpoint(Callback):
    """Saves checkpoints while training, as ``{directory}/{prefix}-{epoch}_{step in epoch}.ckpt`` (and once more at
    the end of training if the last step was not saved). ``directory`` defaults to the current directory and is
    created when missing. When files of the same prefix already exist there, the prefix becomes ``prefix_1``,
    ``prefix_2``, ... so earlier runs are never overwritten. ``latest_ckpt_file_name``: the newest file."""

    def __init__(self, prefix="CKP", directory=None, config=None):
        super().__init__()
        if not isinstance(prefix, str) or not prefix or "/" in prefix or os.sep in prefix:
            raise ValueError(f"ModelCheckpoint: prefix must be a non-empty file-name prefix, got {prefix!r}")
        if config is None:
            config = CheckpointConfig()
        if not isinstance(config, CheckpointConfig):
            raise TypeError(f"ModelCheckpoint: config must be a CheckpointConfig, got {type(config).__name__}")
        self._prefix = prefix
        self._directory = os.path.abspath(directory if directory is not None else os.getcwd())
        self._config = config
        self._saved = []                 # files this callback wrote, oldest first
        self._last_step = None
        self._last_time = None
        self._latest = None
        self._prefix_checked = False

    @property
    def latest_ckpt_file_name(self):
        return self._latest

    def _unique_prefix(self):
        """``prefix``, or ``prefix_N`` when files ``prefix-*.ckpt`` already exist in the directory."""
        os.makedirs(self._directory, exist_ok=True)
        existing = set(os.listdir(self._directory))

        def taken(p):
            pattern = re.compile(re.escape(p) + r"-\d+_\d+\.ckpt$")
            return any(pattern.match(f) for f in existing)

        prefix, n = self._prefix, 0
        while taken(prefix):
            n += 1
            prefix = f"{self._prefix}_{n}"
        self._prefix = prefix

    def on_train_begin(self, run_context):
        if not self._prefix_checked:
            self._unique_prefix()
            self._prefix_checked = True
        self._last_step = run_context.original_args().cur_step_num
        self._last_time = time.monotonic()

    def on_train_step_end(self, run_context):
        cb_params = run_context.original_args()
        cfg = self._config
        step = cb_params.cur_step_num
        due = (cfg.save_checkpoint_steps is not None and step - self._last_step >= cfg.save_checkpoint_steps) or \
              (cfg.save_checkpoint_seconds is not None and
               time.monotonic() - self._last_time >= cfg.save_checkpoint_seconds)
        if due:
            self._save(cb_params)

    def on_train_end(self, run_context):
        cb_params = run_context.original_args()
        if cb_params.cur_step_num != self._last_step:
            self._save(cb_params)

    def _save(self, cb_params):
        cfg = self._config
        step_in_epoch = (cb_params.cur_step_num - 1) % max(cb_params.batch_num, 1) + 1
        path = os.path.join(self._directory, f"{self._prefix}-{cb_params.cur_epoch_num}_{step_in_epoch}.ckpt")
        append = {}
        for item in cfg.append_info:
            if item == "epoch_num":
                append["epoch_num"] = int(cb_params.cur_epoch_num)
            elif item == "step_num":
                append["step_num"] = int(cb_params.cur_step_num)
            else:
                append.update(item)
        network = cfg.saved_network if cfg.saved_network is not None else cb_params.train_network
        save_checkpoint(network, path, integrated_save=cfg.integrated_save, async_save=cfg.async_save,
                        append_dict=append or None)
        self._last_step = cb_params.cur_step_num
        self._last_time = time.monotonic()
        self._latest = path
        if path in self._saved:
            self._saved.remove(path)
        self._saved.append(path)
        while len(self._saved) > cfg.keep_checkpoint_max:
            old = self._saved.pop(0)
            try:
                os.remove(old)
            except FileNotFoundError:
                pass
