# T2Net as the official IXI model (github chunmeifeng/T2Net,
# ixi_train_t2net.py and models/T2net.py): 64 features, 8 EDSR residual
# blocks per branch (residual scaling 0.1), a task transformer after each,
# 5x5 head convolutions; loss 0.8 L1(SR) + 0.2 L1(reconstruction).
model = dict(
    type='mmzoo.T2Net',
    scale=2,
    channels=64,
    num_blocks=8,
    res_scale=0.1,
    sr_weight=0.8,
    recon_weight=0.2)
