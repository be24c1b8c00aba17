"""The whole configuration file: one field per YAML section."""

from __future__ import annotations

from pydantic import Field, field_validator, model_validator

from .appliance import AdminConfig, AuditConfig, WatchdogConfig
from .base import Section
from .calendar import CalendarConfig
from .camera import CameraConfig
from .compound import CompoundConfig
from .doors import DoorConfig, door_problems
from .enrollment import EnrollmentConfig
from .filing import FilingConfig
from .liveness import LivenessConfig, LivenessMode
from .notice import NoticeConfig
from .readers import ReaderConfig
from .retention import RetentionConfig
from .rights import RightsConfig
from .service import ServiceConfig
from .site import SiteConfig
from .store import StoreConfig
from .vision import (
    DetectorConfig,
    EmbedderConfig,
    MatcherConfig,
    ModelsConfig,
    QualityConfig,
    SFaceEmbedderConfig,
    embedder_with_default_type,
)
from .zone import FaceZoneConfig

__all__ = ["FacegateConfig"]


class FacegateConfig(Section):
    """``/etc/facegate/facegate.yaml``: see ``config/example.yaml`` for every option."""

    site: SiteConfig = Field(description="Where this gate is and why it uses faces.")
    camera: CameraConfig = Field(description="The camera watching the gate zone.")
    models: ModelsConfig = Field(default_factory=ModelsConfig, description="Model files.")
    detector: DetectorConfig = Field(default_factory=DetectorConfig, description="Face detection.")
    quality: QualityConfig = Field(default_factory=QualityConfig, description="Face quality gate.")
    embedder: EmbedderConfig = Field(
        default_factory=SFaceEmbedderConfig, description="Face templates (default: sface)."
    )
    matcher: MatcherConfig = Field(default_factory=MatcherConfig, description="1:N matching.")
    face_zone: FaceZoneConfig = Field(
        default_factory=FaceZoneConfig,
        description="Only faces at the terminal are processed; none while a keypad is in use.",
    )
    liveness: LivenessConfig = Field(
        default_factory=LivenessConfig,
        description="Presentation-attack detection: refuse photos and screens.",
    )
    doors: list[DoorConfig] = Field(
        min_length=1, max_length=4, description="The doors this device drives (1 to 4)."
    )
    readers: list[ReaderConfig] = Field(
        default_factory=list,
        max_length=8,
        description="PIN and card readers (equal ways in; a face door needs one).",
    )
    calendar: CalendarConfig = Field(
        default_factory=CalendarConfig, description="Time zone, schedules and holidays."
    )
    store: StoreConfig = Field(default_factory=StoreConfig, description="Encrypted state.")
    service: ServiceConfig = Field(default_factory=ServiceConfig, description="Main loop.")
    audit: AuditConfig = Field(default_factory=AuditConfig, description="Signed audit trail.")
    admin: AdminConfig = Field(default_factory=AdminConfig, description="Admin socket and roles.")
    watchdog: WatchdogConfig = Field(
        default_factory=WatchdogConfig, description="Camera and loop health, clock alarms."
    )
    retention: RetentionConfig = Field(
        default_factory=RetentionConfig, description="How long data is kept."
    )
    enrollment: EnrollmentConfig = Field(
        default_factory=EnrollmentConfig, description="Camera enrolment."
    )
    notice: NoticeConfig | None = Field(
        default=None,
        description=(
            "The notice sign: who collects faces, how to reach them, how to say no (Art. 5). "
            "`facegate run` refuses to start without it (the start-up checklist fails)."
        ),
    )
    filing: FilingConfig = Field(
        default_factory=FilingConfig, description="Filing with the provincial CAC (Art. 15)."
    )
    rights: RightsConfig = Field(
        default_factory=RightsConfig,
        description="Answering a person's requests about their data (PIPL Art. 44-50).",
    )
    compound: CompoundConfig | None = Field(
        default=None,
        description="This gate as one of a compound's gates (MQTT to the office); none: alone.",
    )

    @model_validator(mode="after")
    def _cross_checks(self) -> FacegateConfig:
        # Schedule names, holidays, door rules: every problem at once, naming the key path.
        problems = door_problems(self.calendar, self.doors)
        if problems:
            raise ValueError("; ".join(problems))
        if isinstance(self.embedder, SFaceEmbedderConfig) and self.detector.type != "yunet":
            raise ValueError(
                "embedder.type sface aligns on the detector's five landmarks: set "
                f"`detector.type: yunet` (it is {self.detector.type})"
            )
        door_ids = {d.id for d in self.doors}
        used: dict[int, str] = {}
        for door in self.doors:
            used[door.relay.pin] = f"doors.{door.id}.relay"
            for role, pin in door.gate.pins():
                if pin in used:
                    raise ValueError(f"GPIO {pin} is used twice: {used[pin]} and {door.id}.{role}")
                used[pin] = f"doors.{door.id}.gate.{role}"
        seen_readers: set[str] = set()
        for reader in self.readers:
            if reader.door not in door_ids:
                raise ValueError(f"readers -> {reader.id}: no door {reader.door!r} in doors")
            if reader.id in seen_readers:
                raise ValueError(f"readers -> two readers have the id {reader.id!r}")
            seen_readers.add(reader.id)
            for attr, pin in reader.gpio_pins():
                if pin in used:
                    raise ValueError(
                        f"GPIO {pin} is used twice: {used[pin]} and readers.{reader.id}.{attr}"
                    )
                used[pin] = f"readers.{reader.id}.{attr}"
        if self.face_zone.trigger == "request":
            camera_door = self.doors[0].id
            asks = [
                r.id
                for r in self.readers
                if r.door == camera_door
                and (r.type == "button" or getattr(getattr(r, "pin", None), "face_key", None))
            ]
            if not asks:
                raise ValueError(
                    "face_zone.trigger is request, but no reader at the camera's door "
                    f"({camera_door}) has a pin.face_key and no type: button reader is there"
                )
        return self

    def liveness_mode(self, door_id: str) -> LivenessMode:
        """The liveness mode of one door: its own ``liveness:``, else ``liveness.mode``."""
        for door in self.doors:
            if door.id == door_id and door.liveness is not None:
                return door.liveness
        return self.liveness.mode

    @field_validator("embedder", mode="before")
    @classmethod
    def _embedder_type_defaults_to_dlib(cls, value: object) -> object:
        return embedder_with_default_type(value)

    @field_validator("doors")
    @classmethod
    def _doors_are_distinct(cls, doors: list[DoorConfig]) -> list[DoorConfig]:
        seen_ids: set[str] = set()
        seen_pins: dict[int, str] = {}
        for door in doors:
            if door.id in seen_ids:
                raise ValueError(f"two doors have the id {door.id!r}")
            seen_ids.add(door.id)
            if door.relay.pin in seen_pins:
                raise ValueError(
                    f"doors {seen_pins[door.relay.pin]!r} and {door.id!r} "
                    f"both use GPIO {door.relay.pin} for their relay"
                )
            seen_pins[door.relay.pin] = door.id
        return doors
