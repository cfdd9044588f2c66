// sqnn_layer: one binary hidden layer (fixed core, never generated).
//
//   z_j = dot_j - thr_j,  dot_j = sum_i (+-1 in_i)(+-1 w_ji) = 2 * popcount(~(in ^ w_j)) - K
//   deterministic (STOCHASTIC = 0):  out_bits[j] = (z_j >= 0)            i.e. dot_j >= thr_j
//   stochastic    (STOCHASTIC = 1):  out_bits[j] = (z_j >= noise[u_j])   u_j: RNG_BITS fresh LFSR bits
//
// In stochastic mode every neuron owns a 31-bit Fibonacci LFSR (x^31 + x^28 + 1, seed from SFILE) that advances
// RNG_BITS steps per clock; u_j is its RNG_BITS newest bits.  The noise ROM (NFILE, 2^RNG_BITS signed words)
// holds the inverse CDF written by fpga.render_memories, so P(bit = 1 | z) = #{u : noise[u] <= z} / 2^RNG_BITS,
// the neuron's probability theta(z) quantised to RNG_BITS bits.
//
// Bit 1 means +1.  Weight ROM: M words of K bits (word j = neuron j, bit i = input i), threshold ROM: M
// signed THR_BITS-bit words, loaded with $readmemh from WFILE / TFILE.  Latency: 2 clocks.
`default_nettype none
module sqnn_layer (clk, rst, in_bits, out_bits);
  parameter K          = 1;    // input width
  parameter M          = 1;    // number of neurons
  parameter THR_BITS   = 2;    // signed width of the thresholds (clamped to [-K, K+1] by the writer)
  parameter WFILE      = "layer0_weights.mem";
  parameter TFILE      = "layer0_thresholds.mem";
  parameter STOCHASTIC = 0;
  parameter RNG_BITS   = 8;    // 1..31
  parameter NOISE_BITS = 2;    // signed width of the noise ROM words
  parameter NFILE      = "layer0_noise.mem";
  parameter SFILE      = "layer0_seeds.mem";

  function integer sqnn_clog2;
    input integer v;
    integer r;
    begin
      r = 0;
      while ((1 << r) < v) r = r + 1;
      sqnn_clog2 = r;
    end
  endfunction

  localparam CW0 = sqnn_clog2(K + 1);
  localparam CW  = (CW0 < 4) ? 4 : CW0;                                 // popcount width
  localparam DW0 = (CW + 2 > THR_BITS) ? CW + 2 : THR_BITS;
  localparam DW  = ((DW0 > NOISE_BITS) ? DW0 : NOISE_BITS) + 2;           // signed width of dot and z
  localparam signed [DW-1:0] K_S = K;

  input  wire         clk;
  /* verilator lint_off UNUSEDSIGNAL */
  input  wire         rst;        // reseeds the LFSRs; unused in deterministic mode
  /* verilator lint_on UNUSEDSIGNAL */
  input  wire [K-1:0] in_bits;
  output reg  [M-1:0] out_bits;

  reg [K-1:0]        w_rom [0:M-1];
  reg [THR_BITS-1:0] t_rom [0:M-1];
  initial begin
    $readmemh(WFILE, w_rom, 0, M - 1);
    $readmemh(TFILE, t_rom, 0, M - 1);
  end

  // Stochastic mode only (unused and never loaded when STOCHASTIC = 0).
  localparam NDEPTH = (STOCHASTIC != 0) ? (1 << RNG_BITS) : 1;
  localparam SDEPTH = (STOCHASTIC != 0) ? M : 1;
  /* verilator lint_off UNUSEDSIGNAL */
  /* verilator lint_off UNDRIVEN */
  reg [NOISE_BITS-1:0] n_rom [0:NDEPTH-1];
  reg [30:0]           s_rom [0:SDEPTH-1];
  /* verilator lint_on UNDRIVEN */
  /* verilator lint_on UNUSEDSIGNAL */
  generate
    if (STOCHASTIC != 0) begin : g_load
      initial begin
        $readmemh(NFILE, n_rom, 0, NDEPTH - 1);
        $readmemh(SFILE, s_rom, 0, SDEPTH - 1);
      end
    end
  endgenerate

  genvar j;
  generate
    for (j = 0; j < M; j = j + 1) begin : g_neuron
      wire [CW-1:0] n_match;
      sqnn_popcount #(.K(K), .CW(CW)) u_pop (
        .clk(clk), .bits(~(in_bits ^ w_rom[j])), .count(n_match));
      wire signed [DW-1:0] dot = $signed({{(DW - CW - 1){1'b0}}, n_match, 1'b0}) - K_S;
      wire signed [DW-1:0] thr = $signed({{(DW - THR_BITS){t_rom[j][THR_BITS-1]}}, t_rom[j]});
      wire signed [DW-1:0] z = dot - thr;
      wire signed [DW-1:0] cut;
      if (STOCHASTIC != 0) begin : g_rng
        reg  [30:0] lfsr;
        reg  [30:0] lfsr_next;
        integer s;
        always @* begin
          lfsr_next = lfsr;
          for (s = 0; s < RNG_BITS; s = s + 1)
            lfsr_next = {lfsr_next[29:0], lfsr_next[30] ^ lfsr_next[27]};
        end
        always @(posedge clk) begin
          if (rst || lfsr == 31'd0) lfsr <= s_rom[j];   // (re)seed; 0 is the LFSR's dead state
          else                      lfsr <= lfsr_next;
        end
        wire [NOISE_BITS-1:0] noise = n_rom[lfsr[RNG_BITS-1:0]];
        assign cut = $signed({{(DW - NOISE_BITS){noise[NOISE_BITS-1]}}, noise});
      end else begin : g_det
        assign cut = {DW{1'b0}};
      end
      always @(posedge clk) out_bits[j] <= (z >= cut);
    end
  endgenerate
endmodule
`default_nettype wire
