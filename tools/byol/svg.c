/* OUT/plot.svg, written by hand (no plotting library): the loss over steps
 * on the left axis (raw values faint, a moving average on top), the k-NN
 * monitor's top-1 accuracy as points on the right axis (0-100 %), axes with
 * ticks and labels. Long runs are bucketed to at most MAX_POINTS points so
 * the file stays small. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"

#define W 800
#define H 450
#define L 70   /* plot area margins */
#define R 70
#define T 40
#define B 55
#define MAX_POINTS 1500

typedef struct frame {
    double x_max, y_max; /* data ranges; both axes start at 0 */
} frame;

static double px(const frame *f, double step) { return L + (W - L - R) * step / f->x_max; }
static double py(const frame *f, double v) { return H - B - (H - T - B) * v / f->y_max; }
static double py_acc(double acc) { return H - B - (H - T - B) * acc; }

/* A round tick spacing (1, 2 or 5 times a power of ten) giving about n ticks. */
static double tick_step(double range, int n)
{
    double raw = range / n, p = pow(10.0, floor(log10(raw))), m = raw / p;
    return p * (m <= 1 ? 1 : m <= 2 ? 2 : m <= 5 ? 5 : 10);
}

static void axes(FILE *f, const frame *fr)
{
    fprintf(f, "<rect x=\"%d\" y=\"%d\" width=\"%d\" height=\"%d\" fill=\"none\" "
            "stroke=\"#444\"/>\n", L, T, W - L - R, H - T - B);
    double xs = tick_step(fr->x_max, 8), ys = tick_step(fr->y_max, 5);
    for (double x = 0; x <= fr->x_max * 1.0001; x += xs)
        fprintf(f, "<line x1=\"%.1f\" y1=\"%d\" x2=\"%.1f\" y2=\"%d\" stroke=\"#ddd\"/>"
                "<text x=\"%.1f\" y=\"%d\" text-anchor=\"middle\">%g</text>\n",
                px(fr, x), T, px(fr, x), H - B, px(fr, x), H - B + 18, x);
    for (double y = 0; y <= fr->y_max * 1.0001; y += ys)
        fprintf(f, "<line x1=\"%d\" y1=\"%.1f\" x2=\"%d\" y2=\"%.1f\" stroke=\"#eee\"/>"
                "<text x=\"%d\" y=\"%.1f\" text-anchor=\"end\">%g</text>\n",
                L, py(fr, y), W - R, py(fr, y), L - 6, py(fr, y) + 4, y);
    for (int a = 0; a <= 100; a += 20)
        fprintf(f, "<text x=\"%d\" y=\"%.1f\" fill=\"#c0392b\">%d</text>\n", W - R + 6,
                py_acc(a / 100.0) + 4, a);
    fprintf(f, "<text x=\"%d\" y=\"%d\" text-anchor=\"middle\">step</text>\n",
            L + (W - L - R) / 2, H - 12);
    fprintf(f, "<text transform=\"translate(18 %d) rotate(-90)\" text-anchor=\"middle\" "
            "fill=\"#1f4e9c\">BYOL loss</text>\n", T + (H - T - B) / 2);
    fprintf(f, "<text transform=\"translate(%d %d) rotate(90)\" text-anchor=\"middle\" "
            "fill=\"#c0392b\">k-NN top-1 (%%)</text>\n", W - 22, T + (H - T - B) / 2);
}

/* Mean of points [i, j) of s. */
static cli_point bucket(const cli_series *s, int64_t i, int64_t j)
{
    cli_point c = { 0, 0 };
    for (int64_t k = i; k < j; k++) {
        c.step += s->p[k].step;
        c.value += s->p[k].value;
    }
    c.step /= (double)(j - i);
    c.value /= (double)(j - i);
    return c;
}

/* The series as a polyline, bucketed to MAX_POINTS, averaged over `window`
 * neighbouring buckets (1: raw). */
static void line(FILE *f, const frame *fr, const cli_series *s, int64_t window, const char *style)
{
    int64_t per = (s->n + MAX_POINTS - 1) / MAX_POINTS, nb = (s->n + per - 1) / per;
    fprintf(f, "<polyline fill=\"none\" %s points=\"", style);
    for (int64_t b = 0; b < nb; b++) {
        int64_t lo = b - window + 1 < 0 ? 0 : b - window + 1;
        int64_t end = (b + 1) * per < s->n ? (b + 1) * per : s->n;
        cli_point c = bucket(s, lo * per, end);
        c.step = bucket(s, b * per, end).step;
        fprintf(f, "%.1f,%.1f ", px(fr, c.step), py(fr, c.value));
    }
    fputs("\"/>\n", f);
}

static void curves(FILE *f, const frame *fr, const cli_series *loss, const cli_series *knn)
{
    if (loss->n > 0) {
        int64_t per = (loss->n + MAX_POINTS - 1) / MAX_POINTS;
        int64_t window = loss->n / per / 50 > 1 ? loss->n / per / 50 : 1;
        if (window > 1)
            line(f, fr, loss, 1, "stroke=\"#9db4dd\" stroke-width=\"1\"");
        line(f, fr, loss, window, "stroke=\"#1f4e9c\" stroke-width=\"2\"");
    }
    for (int64_t i = 0; i < knn->n; i++)
        fprintf(f, "<circle cx=\"%.1f\" cy=\"%.1f\" r=\"4\" fill=\"#c0392b\"><title>step %g: "
                "%.2f %%</title></circle>\n", px(fr, knn->p[i].step), py_acc(knn->p[i].value),
                knn->p[i].step, 100 * knn->p[i].value);
}

static void legend(FILE *f, const cli_series *loss, const cli_series *knn)
{
    char last[96] = "";
    if (loss->n)
        snprintf(last, sizeof last, " (last %.4f)", loss->p[loss->n - 1].value);
    fprintf(f, "<text x=\"%d\" y=\"24\" font-size=\"15\">BYOL pretraining</text>\n", L);
    fprintf(f, "<text x=\"%d\" y=\"24\" fill=\"#1f4e9c\">&#8212; loss%s</text>\n", L + 180, last);
    if (knn->n)
        fprintf(f, "<text x=\"%d\" y=\"24\" fill=\"#c0392b\">&#9679; k-NN top-1 (last %.2f %%)"
                "</text>\n", L + 400, 100 * knn->p[knn->n - 1].value);
}

int cli_plot_write(const char *path, const cli_series *loss, const cli_series *knn,
                   int64_t total_steps)
{
    frame fr = { (double)total_steps, 0 };
    for (int64_t i = 0; i < loss->n; i++) {
        if (loss->p[i].step > fr.x_max)
            fr.x_max = loss->p[i].step;
        if (loss->p[i].value > fr.y_max)
            fr.y_max = loss->p[i].value;
    }
    fr.x_max = fr.x_max > 0 ? fr.x_max : 1;
    fr.y_max = fr.y_max > 0 ? ceil(fr.y_max * 1.05 / tick_step(fr.y_max, 5)) *
                                  tick_step(fr.y_max, 5) : 1;
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);
    if (!f)
        return cli_error(BYOL_E_NOMEM, "out of memory for the plot");
    fprintf(f, "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<svg xmlns=\"http://www.w3.org/2000/"
            "svg\" width=\"%d\" height=\"%d\" viewBox=\"0 0 %d %d\" font-family=\"sans-serif\" "
            "font-size=\"12\">\n<rect width=\"100%%\" height=\"100%%\" fill=\"white\"/>\n",
            W, H, W, H);
    axes(f, &fr);
    curves(f, &fr, loss, knn);
    legend(f, loss, knn);
    if (!loss->n)
        fprintf(f, "<text x=\"%d\" y=\"%d\" text-anchor=\"middle\" fill=\"#888\">no steps "
                "logged yet</text>\n", W / 2, H / 2);
    fputs("</svg>\n", f);
    fclose(f);
    int rc = cli_write_file(path, buf, len);
    free(buf);
    return rc;
}
