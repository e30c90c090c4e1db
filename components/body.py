"""Body: anthropometrics and SMPL shape coefficients (betas)."""

from synthtwin.components.schema import Column, Component

__all__ = ["BODY", "NUM_BETAS"]

NUM_BETAS = 10

BODY = Component(
    "body",
    (
        Column("height_cm", "float32", unit="cm", default=170, doc="standing height"),
        Column("weight_kg", "float32", unit="kg", default=75, doc="body mass"),
        Column("bmi", "float32", unit="kg/m^2", default=26, doc="body mass index"),
        Column(
            "betas",
            "float32",
            shape=(NUM_BETAS,),
            doc="SMPL shape: [0] stature z in sex, [1] girth (BMI residual) z, [2:] proportions",
        ),
    ),
)
