/* The most bfloat16 arithmetic these cores can do without AMX: the yardstick for
 * "how close the step comes to what the cores can compute" (docs/part3.md).
 *
 *   gcc -O3 -funroll-all-loops -mavx512f -mavx512bf16 -fopenmp benchmarks/peak_bf16.c -o /tmp/peak_bf16
 *   OMP_NUM_THREADS=2 /tmp/peak_bf16
 *
 * Each thread runs 12 independent chains of VDPBF16PS, the AVX512-BF16 instruction
 * oneDNN's bfloat16 convolutions and matrix products use on CPUs without AMX: 16 lanes,
 * each adding two bfloat16 products to a float32, so 64 operations an instruction. 12
 * chains in registers hide the instruction's latency; nothing touches memory. Three
 * trials; the best counts (the first may meet the cores still clocking up).
 */
#include <immintrin.h>
#include <omp.h>
#include <stdio.h>

#define CHAINS 12
#ifndef ROUNDS /* instructions a chain: about 0.7 s a trial on Zen 4 */
#define ROUNDS 200000000L
#endif

int main(void) {
    double best = 0;
    for (int trial = 0; trial < 3; trial++) {
        double start = omp_get_wtime();
        float checksum = 0; /* printed, so that the compiler keeps the work */
#pragma omp parallel reduction(+ : checksum)
        {
            __m512 acc[CHAINS];
            __m512bh a = (__m512bh)_mm512_set1_epi16(0x3f80); /* 1.0 */
            __m512bh b = (__m512bh)_mm512_set1_epi16(0x3380); /* 2**-24 */
            for (int c = 0; c < CHAINS; c++) acc[c] = _mm512_setzero_ps();
            for (long r = 0; r < ROUNDS; r++)
                for (int c = 0; c < CHAINS; c++) acc[c] = _mm512_dpbf16_ps(acc[c], a, b);
            for (int c = 0; c < CHAINS; c++) checksum += _mm512_reduce_add_ps(acc[c]);
        }
        double seconds = omp_get_wtime() - start;
        double rate = (double)omp_get_max_threads() * ROUNDS * CHAINS * 64 / seconds;
        if (rate > best) best = rate;
        printf("%d thread(s): %.3f TFLOP/s (checksum %g)\n", omp_get_max_threads(),
               rate / 1e12, checksum);
    }
    printf("best: %.3f TFLOP/s of bfloat16\n", best / 1e12);
    return 0;
}
