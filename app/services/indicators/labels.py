"""Spanish names and INE geography codes of the disaggregation values."""

from __future__ import annotations

from app.services.indicators.catalogue import Dimension
from app.services.indicators.computation import References

PROVINCE_CODE = "06"  # INE code of the province of Badajoz

CHANNELS = {
    "phone": "Teléfono",
    "email": "Correo electrónico",
    "web": "Web",
    "in_person": "Presencial",
    "video_call": "Videollamada",
    "assistant": "Asistente",
}
MODALITIES = {"in_person": "Presencial", "online": "En línea", "hybrid": "Híbrida"}
KINDS = {"municipality": "Municipio", "elm": "Entidad local menor", "none": "Sin entidad local"}


def label(dim: Dimension | None, key: str | None, refs: References) -> str | None:
    if dim is None or key is None:
        return None
    if dim == Dimension.municipality:
        entity = refs.entities.get(key)
        return entity.name if entity else "Sin entidad local"
    if dim == Dimension.comarca:
        return refs.comarcas.get(key, "Sin comarca")
    if dim == Dimension.area:
        return refs.areas.get(key, "Sin área (Oficina)")
    if dim == Dimension.channel:
        return CHANNELS.get(key, key)
    if dim == Dimension.modality:
        return MODALITIES.get(key, key)
    return KINDS.get(key, key)


def geo_code(dim: Dimension, key: str | None, refs: References) -> str:
    """The INE code of a municipality (an ELM's own code if it has one); else the province's."""
    if dim == Dimension.municipality and key:
        entity = refs.entities.get(key)
        if entity and entity.ine_code:
            return entity.ine_code
    return PROVINCE_CODE
