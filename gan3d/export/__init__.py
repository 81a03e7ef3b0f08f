"""Exports of gan3d samples (issue 6): textured meshes (OBJ+MTL+PNG, GLB),
figure sheets (PNG, GIF) and a self-contained HTML viewer page.

  gan3d.export.mesh_io  write_obj / write_glb (+ minimal readers)
  gan3d.export.sheets   sample_sheet (Fig. 1/4), interpolation_sheet (Fig. 5), save_gif
  gan3d.export.html     write_page: sample grid + WebGL mesh viewer, no network
"""
