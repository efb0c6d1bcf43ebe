// IoU-based box losses (GIoU, DIoU, CIoU) and their exact gradients: the
// reference, plain double arithmetic written to be read. See grad.h.
//
// Every intermediate quantity q carries its gradient with respect to the
// four predicted coordinates (a "dual" 4-vector), so the backward pass is
// the chain rule written once beside each forward line.
#include "nn/train/grad.h"

#include <math.h>
#include <string.h>

typedef struct dual {
    double v, d[4]; // value and d value / d p[0..3]
} dual;

static dual cst(double v)
{
    dual r = {v, {0, 0, 0, 0}};
    return r;
}
static dual var(double v, int k)
{
    dual r = cst(v);
    r.d[k] = 1.0;
    return r;
}
static dual add(dual a, dual b)
{
    dual r = {a.v + b.v, {0}};
    for (int k = 0; k < 4; k++)
        r.d[k] = a.d[k] + b.d[k];
    return r;
}
static dual sub(dual a, dual b)
{
    dual r = {a.v - b.v, {0}};
    for (int k = 0; k < 4; k++)
        r.d[k] = a.d[k] - b.d[k];
    return r;
}
static dual mul(dual a, dual b)
{
    dual r = {a.v * b.v, {0}};
    for (int k = 0; k < 4; k++)
        r.d[k] = a.d[k] * b.v + a.v * b.d[k];
    return r;
}
static dual divd(dual a, dual b)
{
    dual r = {a.v / b.v, {0}};
    for (int k = 0; k < 4; k++)
        r.d[k] = (a.d[k] * b.v - a.v * b.d[k]) / (b.v * b.v);
    return r;
}
static dual scale(dual a, double s)
{
    dual r = {a.v * s, {0}};
    for (int k = 0; k < 4; k++)
        r.d[k] = a.d[k] * s;
    return r;
}
// min/max pick one side's gradient (at a tie, the first argument's).
static dual dmin(dual a, dual b)
{
    return a.v <= b.v ? a : b;
}
static dual dmax(dual a, dual b)
{
    return a.v >= b.v ? a : b;
}
static dual relu(dual a)
{
    return a.v > 0 ? a : cst(0.0);
}
// atan(w / h) for w, h >= 0; 0 (no gradient) for the empty box.
static dual atan_ratio(dual w, dual h)
{
    double n2 = w.v * w.v + h.v * h.v;
    if (n2 <= 0)
        return cst(0.0);
    dual r = {atan2(w.v, h.v), {0}};
    for (int k = 0; k < 4; k++)
        r.d[k] = (h.v * w.d[k] - w.v * h.d[k]) / n2;
    return r;
}

double ft_loss_box_iou_f64(ft_box_loss kind, const double p[4], const double t[4], double dp[4])
{
    if (kind == FT_BOX_LOSS_PROTOTYPE)
        return ft_loss_box_f64(p, t, dp);
    dual x1 = var(p[0], 0), y1 = var(p[1], 1), x2 = var(p[2], 2), y2 = var(p[3], 3);
    dual tx1 = cst(t[0]), ty1 = cst(t[1]), tx2 = cst(t[2]), ty2 = cst(t[3]);
    // An inverted prediction (x2 < x1) has zero width; the enclosing box
    // and centre terms still pull it towards the target.
    dual wp = relu(sub(x2, x1)), hp = relu(sub(y2, y1));
    dual wt = relu(sub(tx2, tx1)), ht = relu(sub(ty2, ty1));
    dual iw = relu(sub(dmin(x2, tx2), dmax(x1, tx1)));
    dual ih = relu(sub(dmin(y2, ty2), dmax(y1, ty1)));
    dual inter = mul(iw, ih);
    dual uni = add(cst(1e-12), sub(add(mul(wp, hp), mul(wt, ht)), inter));
    dual iou = divd(inter, uni);
    dual loss = sub(cst(1.0), iou);
    dual cw = sub(dmax(x2, tx2), dmin(x1, tx1)), ch = sub(dmax(y2, ty2), dmin(y1, ty1));
    if (kind == FT_BOX_LOSS_GIOU) {
        // 1 - GIoU = 1 - IoU + (C - U) / C
        dual c = add(cst(1e-12), mul(cw, ch));
        loss = add(loss, divd(sub(c, uni), c));
    } else {
        // DIoU: + rho^2 / c^2, centre distance over the enclosing diagonal.
        dual dx = scale(sub(add(x1, x2), add(tx1, tx2)), 0.5);
        dual dy = scale(sub(add(y1, y2), add(ty1, ty2)), 0.5);
        dual rho2 = add(mul(dx, dx), mul(dy, dy));
        dual c2 = add(cst(1e-12), add(mul(cw, cw), mul(ch, ch)));
        loss = add(loss, divd(rho2, c2));
        if (kind == FT_BOX_LOSS_CIOU) {
            // + alpha v, v = 4/pi^2 (atan(wt/ht) - atan(wp/hp))^2,
            // alpha = v / (1 - IoU + v). alpha is differentiated too (the
            // loss is one smooth function); torchvision holds it constant.
            dual da = sub(atan_ratio(wt, ht), atan_ratio(wp, hp));
            dual v = scale(mul(da, da), 4.0 / (3.14159265358979323846 * 3.14159265358979323846));
            if (v.v > 0) {
                dual den = add(sub(cst(1.0), iou), v);
                loss = add(loss, divd(mul(v, v), den));
            }
        }
    }
    // An inverted extent (x1 > x2) inside the target has no IoU, enclosing
    // or centre gradient at all; (x1 - x2)^2 while inverted reopens it.
    dual ix = relu(sub(x1, x2)), iy = relu(sub(y1, y2));
    loss = add(loss, add(mul(ix, ix), mul(iy, iy)));
    for (int k = 0; k < 4; k++)
        dp[k] = loss.d[k];
    return loss.v;
}

double ft_loss_box_iou(ft_box_loss kind, const float p[4], const float t[4], float dp[4])
{
    double pd[4], td[4], dd[4];
    for (int i = 0; i < 4; i++)
        pd[i] = p[i], td[i] = t[i];
    double l = ft_loss_box_iou_f64(kind, pd, td, dd);
    for (int i = 0; i < 4; i++)
        dp[i] = (float)dd[i];
    return l;
}

static const char *const box_loss_names[] = {"prototype", "giou", "diou", "ciou"};

const char *ft_box_loss_name(ft_box_loss k)
{
    return (unsigned)k < 4 ? box_loss_names[k] : "?";
}

ft_status ft_box_loss_parse(const char *s, ft_box_loss *out)
{
    for (int k = 0; k < 4; k++)
        if (strcmp(s, box_loss_names[k]) == 0) {
            *out = (ft_box_loss)k;
            return FT_OK;
        }
    return FT_E_INVALID;
}
