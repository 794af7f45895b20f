"""Small (or full-size) ComfyUI models built from layouts with ComfyUI's own classes.

Not nodes: the tiny world, the tests, the benchmarks and the checkpoint generator build their
models here, so that all of them run exactly the code paths a real checkpoint takes in ComfyUI.

* ``layouts``: the named layouts (overrides of SD1.5's UNet / CLIP / VAE and open_clip configs);
  plain data, importable without ComfyUI.
* ``sd1``: MODEL, CLIP and VAE objects of SD1.x from those layouts (imports ComfyUI).
* ``sd2``, ``sdxl``: MODEL and CLIP objects of SD 2.x and SDXL with ComfyUI's SD20 / SDXL
  classes (the VAE is ``sd1``'s); ``family_layouts``: their small layouts (plain data).
"""
