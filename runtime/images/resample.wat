;; Pillow's two resampling passes for 8-bit images (Resample.c's ImagingResampleHorizontal_8bpc and
;; ImagingResampleVertical_8bpc) in WebAssembly SIMD: the same int32 sums of byte x 22-bit weight, the
;; same clipping, four or sixteen channels at a time. Integer sums that wrap as C's do give the same
;; bits in any order, so the result equals resample.ts's description of Pillow's arithmetic exactly.
;;
;; resample.ts lays out the memory and calls these; runtime/images/resampleWasm.ts holds the assembled
;; bytes (npm run wasm writes it from this file; a unit test checks that it is current).
;;
;; Coefficient tables (Pillow's precompute_coeffs, computed in TypeScript): per output pixel, `first`
;; (int32) is its first input pixel, `count` (int32) its number of taps, and `weights` holds `ksize`
;; int32 fixed-point weights for it.
(module
  (memory (export "memory") 1)

  ;; Pillow's clip8 on four sums: 0 at or below 0, 255 from 2^30 on, else the sum shifted down by
  ;; 22 bits (an arithmetic shift, then a clamp to [0, 255], gives exactly that).
  (func $clip8 (param $sum v128) (result v128)
    (i32x4.min_s
      (i32x4.max_s (i32x4.shr_s (local.get $sum) (i32.const 22)) (v128.const i32x4 0 0 0 0))
      (v128.const i32x4 255 255 255 255)))

  ;; The horizontal pass over `rows` rows of RGB bytes at `src` (`srcStride` bytes apart): output
  ;; columns [colStart, colEnd) of each row, three bytes a pixel, at `dst` (`dstStride` bytes apart).
  ;; One pixel's three channels are lanes 0-2 of one vector; lane 3 carries the next pixel's red,
  ;; whose sum is thrown away. So each row reads one byte past its last tap and writes one byte
  ;; past its last column (the next pixel, or the padding the caller leaves, overwrites it).
  (func (export "horizontal")
    (param $src i32) (param $srcStride i32) (param $rows i32)
    (param $first i32) (param $count i32) (param $weights i32) (param $ksize i32)
    (param $colStart i32) (param $colEnd i32)
    (param $dst i32) (param $dstStride i32)
    (local $y i32) (local $row i32) (local $xx i32) (local $o i32)
    (local $p i32) (local $k i32) (local $end i32) (local $sum v128) (local $bytes v128)
    (block $rowsDone
      (loop $eachRow
        (br_if $rowsDone (i32.ge_u (local.get $y) (local.get $rows)))
        (local.set $row (i32.add (local.get $src) (i32.mul (local.get $y) (local.get $srcStride))))
        (local.set $o
          (i32.add
            (i32.add (local.get $dst) (i32.mul (local.get $y) (local.get $dstStride)))
            (i32.mul (local.get $colStart) (i32.const 3))))
        (local.set $xx (local.get $colStart))
        (block $columnsDone
          (loop $eachColumn
            (br_if $columnsDone (i32.ge_u (local.get $xx) (local.get $colEnd)))
            (local.set $p
              (i32.add (local.get $row)
                (i32.mul (i32.load (i32.add (local.get $first) (i32.shl (local.get $xx) (i32.const 2)))) (i32.const 3))))
            (local.set $k
              (i32.add (local.get $weights) (i32.shl (i32.mul (local.get $xx) (local.get $ksize)) (i32.const 2))))
            (local.set $end
              (i32.add (local.get $k)
                (i32.shl (i32.load (i32.add (local.get $count) (i32.shl (local.get $xx) (i32.const 2)))) (i32.const 2))))
            ;; Pillow starts each sum at half a unit of the fixed point: rounding to nearest.
            (local.set $sum (v128.const i32x4 0x200000 0x200000 0x200000 0x200000))
            (block $tapsDone
              (loop $eachTap
                (br_if $tapsDone (i32.ge_u (local.get $k) (local.get $end)))
                (local.set $sum
                  (i32x4.add (local.get $sum)
                    (i32x4.mul
                      (i32x4.extend_low_i16x8_u (i16x8.extend_low_i8x16_u (v128.load32_zero (local.get $p))))
                      (i32x4.splat (i32.load (local.get $k))))))
                (local.set $p (i32.add (local.get $p) (i32.const 3)))
                (local.set $k (i32.add (local.get $k) (i32.const 4)))
                (br $eachTap)))
            (local.set $bytes (call $clip8 (local.get $sum)))
            (local.set $bytes (i16x8.narrow_i32x4_u (local.get $bytes) (local.get $bytes)))
            (local.set $bytes (i8x16.narrow_i16x8_u (local.get $bytes) (local.get $bytes)))
            (v128.store32_lane 0 (local.get $o) (local.get $bytes))
            (local.set $o (i32.add (local.get $o) (i32.const 3)))
            (local.set $xx (i32.add (local.get $xx) (i32.const 1)))
            (br $eachColumn)))
        (local.set $y (i32.add (local.get $y) (i32.const 1)))
        (br $eachRow))))

  ;; The vertical pass: output rows [rowStart, rowEnd), bytes [byteFrom, byteTo) of each, from the
  ;; rows at `src` (`srcStride` bytes apart; its first row is input row `rowOffset`), written at
  ;; `dst` (`dstStride` bytes apart, the first output row first). Sixteen bytes at a time: a row's
  ;; last step reads and writes up to 15 bytes past byteTo, which the caller leaves as padding.
  (func (export "vertical")
    (param $src i32) (param $srcStride i32) (param $rowOffset i32)
    (param $first i32) (param $count i32) (param $weights i32) (param $ksize i32)
    (param $rowStart i32) (param $rowEnd i32) (param $byteFrom i32) (param $byteTo i32)
    (param $dst i32) (param $dstStride i32)
    (local $yy i32) (local $base i32) (local $k0 i32) (local $end i32) (local $out i32)
    (local $i i32) (local $p i32) (local $k i32)
    (local $w v128) (local $v v128) (local $low v128) (local $high v128)
    (local $s0 v128) (local $s1 v128) (local $s2 v128) (local $s3 v128)
    (local.set $yy (local.get $rowStart))
    (block $rowsDone
      (loop $eachRow
        (br_if $rowsDone (i32.ge_u (local.get $yy) (local.get $rowEnd)))
        (local.set $base
          (i32.add (local.get $src)
            (i32.mul
              (i32.sub (i32.load (i32.add (local.get $first) (i32.shl (local.get $yy) (i32.const 2)))) (local.get $rowOffset))
              (local.get $srcStride))))
        (local.set $k0
          (i32.add (local.get $weights) (i32.shl (i32.mul (local.get $yy) (local.get $ksize)) (i32.const 2))))
        (local.set $end
          (i32.add (local.get $k0)
            (i32.shl (i32.load (i32.add (local.get $count) (i32.shl (local.get $yy) (i32.const 2)))) (i32.const 2))))
        (local.set $out
          (i32.add (local.get $dst) (i32.mul (i32.sub (local.get $yy) (local.get $rowStart)) (local.get $dstStride))))
        (local.set $i (local.get $byteFrom))
        (block $bytesDone
          (loop $eachSixteen
            (br_if $bytesDone (i32.ge_u (local.get $i) (local.get $byteTo)))
            (local.set $s0 (v128.const i32x4 0x200000 0x200000 0x200000 0x200000))
            (local.set $s1 (local.get $s0))
            (local.set $s2 (local.get $s0))
            (local.set $s3 (local.get $s0))
            (local.set $p (i32.add (local.get $base) (local.get $i)))
            (local.set $k (local.get $k0))
            (block $tapsDone
              (loop $eachTap
                (br_if $tapsDone (i32.ge_u (local.get $k) (local.get $end)))
                (local.set $w (i32x4.splat (i32.load (local.get $k))))
                (local.set $v (v128.load (local.get $p)))
                (local.set $low (i16x8.extend_low_i8x16_u (local.get $v)))
                (local.set $high (i16x8.extend_high_i8x16_u (local.get $v)))
                (local.set $s0 (i32x4.add (local.get $s0) (i32x4.mul (i32x4.extend_low_i16x8_u (local.get $low)) (local.get $w))))
                (local.set $s1 (i32x4.add (local.get $s1) (i32x4.mul (i32x4.extend_high_i16x8_u (local.get $low)) (local.get $w))))
                (local.set $s2 (i32x4.add (local.get $s2) (i32x4.mul (i32x4.extend_low_i16x8_u (local.get $high)) (local.get $w))))
                (local.set $s3 (i32x4.add (local.get $s3) (i32x4.mul (i32x4.extend_high_i16x8_u (local.get $high)) (local.get $w))))
                (local.set $p (i32.add (local.get $p) (local.get $srcStride)))
                (local.set $k (i32.add (local.get $k) (i32.const 4)))
                (br $eachTap)))
            (v128.store
              (i32.add (local.get $out) (local.get $i))
              (i8x16.narrow_i16x8_u
                (i16x8.narrow_i32x4_u (call $clip8 (local.get $s0)) (call $clip8 (local.get $s1)))
                (i16x8.narrow_i32x4_u (call $clip8 (local.get $s2)) (call $clip8 (local.get $s3)))))
            (local.set $i (i32.add (local.get $i) (i32.const 16)))
            (br $eachSixteen)))
        (local.set $yy (i32.add (local.get $yy) (i32.const 1)))
        (br $eachRow))))
)
