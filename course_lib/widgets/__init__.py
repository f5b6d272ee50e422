"""Interactive explorers for the lessons, built on core ipywidgets and ``course_lib.functional``.

KernelEditor            a 3x3 kernel grid with presets filtering a photo or a digit live
SlidingWindowStepper    the kernel stepping over the input, the dot product written out
ConvArithmeticExplorer  o = floor((i + 2p - d(k-1) - 1)/s) + 1 with the numbers substituted
PoolingExplorer         max/avg pooling, the argmax mask and a shift for translation invariance
TemperatureExplorer     softmax(z / T) and its entropy
BackwardStepper         which entries of dW and dX one upstream-gradient cell feeds
FeatureMapExplorer      a trained Sequential's feature maps: image, layer, channel, colour scale
ShiftExplorer           a digit shifted by (dy, dx): the trained MLP's and LeNet's probabilities
DrawDigitExplorer       draw a digit: what the trained net reads, every layer, saliency, occlusion

Every explorer has ``.controls`` (name -> ipywidgets control: set ``.value`` to move it),
``.readout`` (the text under the picture), ``.widget`` (the container to display),
``.static_figure()`` (its matplotlib Figure) and state arrays computed with
``course_lib.functional`` (see each class). ``with explorer.hold(): ...`` changes several
controls with one redraw; ``explorer.png`` is the current picture as PNG bytes;
``Explorer.auto_render = False`` skips drawing on updates (state only, e.g. in tests).
``ExplorerClass.demo()`` builds one as its lesson shows it, from small deterministic inputs
(``sample_photo(size)``, a grayscale photo: matplotlib's Grace Hopper sample;
``sample_digits(n)``, the first MNIST test digits); ``explorer_classes()`` lists every
explorer class, so the tests and benchmarks keep no list of their own. ``KERNELS`` are the
KernelEditor's presets.

Writing an explorer
-------------------
Subclass ``Explorer`` (``_base``): create the axes and artists in ``_build`` (with the
helpers of ``drawing``), compute the state and readout in ``_compute``, move the artists in
``_draw``; name every control in a "Controls" paragraph of the class docstring, define
``demo()``, and import the class here. The tests, the benchmark and the layout check then
cover it with no other change. ``rendering`` turns the figure into PNG bytes quickly.

Rendering
---------
Each explorer owns one persistent matplotlib ``Figure`` on the Agg canvas (never created
through pyplot, so nothing accumulates in ``plt.get_fignums()``). A control change
recomputes the state, moves the existing artists (``set_data``, ``set_clim``,
``set_text``, ``set_bounds``), draws the figure (blitting: the static part -- axes, tick
labels -- is drawn once and its pixels reused) and sets the PNG bytes as the value of an
``ipywidgets.Image``. This needs no ``%matplotlib widget``/ipympl and works wherever core
widgets work (JupyterLab, Notebook 7, VS Code, Colab, Voila) and in exported HTML/slides
with embedded widget state.

Static fallback
---------------
Displaying an explorer (last expression of a cell, or ``display(explorer)``) calls its
``_repr_mimebundle_``, which returns three representations in one output:
``application/vnd.jupyter.widget-view+json`` (the live widget), ``image/png`` (the
current state) and a stable ``text/plain`` (class name and settings, no ids or addresses,
so nbval can compare it). Live frontends render the widget; GitHub, nbconvert HTML
without widget state and slides render the PNG (nbconvert skips a widget view whose state
is not saved; with the state saved, e.g. by ``nbconvert --execute``, it embeds the widget,
whose Image holds the same picture). The PNG is the state when the cell ran; later control
changes update the live widget only. ``explorer.static_figure()`` shows as a PNG too, with
any matplotlib backend. Displaying ``explorer.widget`` directly gives the widget only.
"""

from ._base import Explorer
from .arithmetic import ConvArithmeticExplorer, conv_arithmetic
from .backward import BackwardStepper
from .digit_canvas import DigitCanvas
from .draw_digit import DrawDigitExplorer
from .feature_maps import FeatureMapExplorer
from .kernel_editor import BORDERS, KERNELS, KernelEditor, filter_image
from .pooling import PoolingExplorer
from .samples import sample_digits, sample_photo
from .shift import ShiftExplorer
from .sliding_window import SlidingWindowStepper
from .temperature import TemperatureExplorer, softmax_with_temperature

__all__ = ["Explorer", "KERNELS", "BORDERS", "KernelEditor", "SlidingWindowStepper",
           "ConvArithmeticExplorer", "PoolingExplorer", "TemperatureExplorer", "BackwardStepper",
           "FeatureMapExplorer", "ShiftExplorer", "DrawDigitExplorer", "DigitCanvas",
           "sample_photo", "sample_digits",
           "filter_image", "conv_arithmetic", "softmax_with_temperature", "explorer_classes"]


def explorer_classes() -> list[type[Explorer]]:
    """Every explorer class of this package (subclasses of ``Explorer``, deepest included),
    in the order they are defined; each builds a demo of itself with ``demo()``."""
    found: list[type[Explorer]] = []
    todo = [Explorer]
    while todo:
        for cls in todo.pop(0).__subclasses__():
            if cls.__module__.startswith(__name__ + ".") and cls not in found:
                found.append(cls)
            todo.append(cls)
    return found
