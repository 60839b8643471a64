/* Internal pieces of the preview grid (preview.c, font.c), shared with
 * the tests that check its layout, its labels and its sample. */
#ifndef BYOL_DATA_PREVIEW_H
#define BYOL_DATA_PREVIEW_H

#include <stdint.h>

#include "byol/byol_data.h"

/* Layout: white gaps of GAP pixels around everything; cells of
 * augment.size times the smallest integer that makes them at least
 * MIN_CELL pixels (nearest-neighbour upscaling); text in 5x7 glyphs drawn
 * TEXT times larger, ADVANCE pixels a character, at most LABEL_CHARS
 * characters a label. The label row at the top is TEXT * 7 pixels high;
 * the label column at the left is as wide as its longest label. */
#define BYOL__PREVIEW_GAP 4
#define BYOL__PREVIEW_MIN_CELL 112
#define BYOL__PREVIEW_TEXT 2
#define BYOL__PREVIEW_ADVANCE (6 * BYOL__PREVIEW_TEXT)
#define BYOL__PREVIEW_LABEL_CHARS 16

/* The 5 columns of a printable ASCII character's glyph, bit 0 the top
 * row; '?' for any other byte. */
const uint8_t *byol__glyph(int ch);

/* Draws min(count, size) distinct images of ds into idx, a function of
 * seed alone: a labelled dataset's classes take turns (in a shuffled
 * order), each giving a random image of its own, so the sample spans the
 * classes; an unlabelled one is sampled uniformly. Returns how many were
 * drawn, or BYOL_E_NOMEM. */
int64_t byol__preview_sample(const byol_dataset *ds, uint64_t seed, int64_t count,
                             int64_t *idx);

#endif
