"""The launch forms, one a file: a noise study, an LM sampling, a scan (on a shared base)."""
from tui.screens.forms.base import LaunchForm
from tui.screens.forms.sampling import SamplingForm
from tui.screens.forms.scan import ScanForm
from tui.screens.forms.study import StudyForm

__all__ = ["LaunchForm", "SamplingForm", "ScanForm", "StudyForm"]
