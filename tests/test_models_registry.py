"""The model registry: names, parameter counts against the libraries and papers, output shapes, pretrained weights.

Parameter counts are taken on the meta device (no memory, no initialisation cost); shapes are checked with one
CPU forward pass on a 64x64 image for small variants (ResNet-18 encoders, HRNet-W18-Small, narrow U-Nets), and
on the meta device for the full-size networks. The heaviest tests (building 45-128M-parameter networks on the
meta device, a few seconds each on a loaded machine) end in ``_full_size_on_meta``. No test touches the
network: ``pretrained=True`` is checked through monkeypatched builders.
"""

from __future__ import annotations

import pytest
import torch
import torchvision

from densepred.models.registry import UnknownNameError, available_models, build_model, register
from densepred.models.pretrained import PretrainedFileNotFoundError, PretrainedWeightsError


def count(model: torch.nn.Module) -> int:
    return sum(p.numel() for p in model.parameters())


def on_meta(name: str, **kw) -> torch.nn.Module:
    with torch.device("meta"):
        return build_model(name, **kw)


def timm_trunk(name: str, **kw) -> int:
    """Parameters of a timm classification model without its classifier (the library's own count)."""
    import timm

    with torch.device("meta"):
        return count(timm.create_model(name, num_classes=0, **kw))


X = torch.rand(1, 3, 64, 64)
META_X = torch.empty(1, 3, 64, 64, device="meta")

# torchvision ResNet trunks without ``fc`` (torchvision's documented num_params minus 1000 * (C + 1)):
RESNET18_TRUNK = 11_689_512 - 513_000
RESNET50_TRUNK = 25_557_032 - 2_049_000
RESNET101_TRUNK = 44_549_160 - 2_049_000


def test_registered_names():
    names = set(available_models())
    expected = {
        "deeplabv3plus-resnet101", "deeplabv3plus-wideresnet101", "hrnetv2-w48", "hrnetv2-w18-small",
        "deeplabv3-resnet50", "deeplabv3-resnet101", "monodepth2-resnet18", "monodepth2-resnet50",
        "monodepth2-resnet18-seg", "monodepth2-resnet50-seg", "monodepth2-pose-resnet18", "unet", "unetplusplus",
        "refinenet-lw-50", "refinenet-lw-101", "refinenet-lw-152", "pspnet-resnet101", "encoder-mobilenetv2",
        "encoder-mobilenetv2-fastdepth", "encoder-resnext101-32x8d", "encoder-pvt-v2-b2",
    }
    assert expected <= names


# --- parameter counts ----------------------------------------------------------------------------------------

def test_deeplabv3_counts_equal_torchvision_documented_counts_full_size_on_meta():
    # torchvision's weight metadata (no download): DeepLabV3 with the auxiliary FCN head, 21 classes.
    seg = torchvision.models.segmentation
    ref50 = seg.DeepLabV3_ResNet50_Weights.COCO_WITH_VOC_LABELS_V1.meta["num_params"]  # 42,004,074
    ref101 = seg.DeepLabV3_ResNet101_Weights.COCO_WITH_VOC_LABELS_V1.meta["num_params"]  # 60,996,202
    r50 = on_meta("deeplabv3-resnet50", num_classes=21, aux_loss=True).eval()
    assert count(r50) == ref50
    assert count(on_meta("deeplabv3-resnet101", num_classes=21, aux_loss=True)) == ref101
    out = r50(META_X)  # aux_loss=True: torchvision's dict; output stride 8 by default (stage 3 dilated too)
    assert out["out"].shape == out["aux"].shape == (1, 21, 64, 64)
    assert r50.backbone(META_X)["out"].shape[-1] == 64 // 8
    os16 = on_meta("deeplabv3-resnet50", num_classes=21, output_stride=16).eval()
    assert os16(META_X).shape == (1, 21, 64, 64) and os16.backbone(META_X)["out"].shape[-1] == 64 // 16


def test_hrnetv2_w48_count_is_the_hrnet_papers_full_size_on_meta():
    # Wang et al. (TPAMI 2020), Cityscapes table: HRNetV2-W48, 65.9M parameters (19 classes).
    model = on_meta("hrnetv2-w48", num_classes=19)
    assert count(model) == 65_859_379
    assert round(count(model) / 1e6, 1) == 65.9
    assert model.encoder.feature_info.channels() == [48, 96, 192, 384]  # the four branches, 720 concatenated
    assert model.eval()(META_X).shape == (1, 19, 64, 64)


@pytest.mark.parametrize("name, trunk, paper_m", [
    ("refinenet-lw-50", "resnet50", 27), ("refinenet-lw-101", "resnet101", 46), ("refinenet-lw-152", "resnet152", 62),
])
def test_refinenet_lw_counts_full_size_on_meta(name, trunk, paper_m):
    # Nekrasov et al. (BMVC 2018), Table 1: RefineNet-LW-50 / -101 / -152 have 27M / 46M / 62M parameters
    # (PASCAL VOC, 21 classes). Encoder: exactly timm's ResNet trunk.
    model = on_meta(name, num_classes=21)
    assert count(model.encoder) == timm_trunk(trunk)
    assert round(count(model) / 1e6) == paper_m
    assert model.eval()(META_X).shape == (1, 21, 64, 64)


def test_monodepth2_counts():
    # Encoders are exactly torchvision's ResNet trunks; totals are the 14.3M (ResNet-18) and 32.5M (ResNet-50)
    # quoted for Monodepth2's depth network (e.g. Lite-Mono, Zhang et al. CVPR 2023, Table 1).
    r18, r50 = on_meta("monodepth2-resnet18"), on_meta("monodepth2-resnet50")
    assert count(r18.encoder) == RESNET18_TRUNK and count(r50.encoder) == RESNET50_TRUNK
    assert round(count(r18) / 1e6, 1) == 14.3 and round(count(r50) / 1e6, 1) == 32.5
    # The segmentation variant differs only by its single C-channel head (scale 0) instead of four 1-channel ones.
    seg = on_meta("monodepth2-resnet18-seg", num_classes=19)
    head = lambda c_in, c_out: c_in * c_out * 9 + c_out  # noqa: E731
    assert count(seg) - count(r18) == head(16, 19) - sum(head(w, 1) for w in (16, 32, 64, 128))
    # Pose network: a ResNet-18 trunk whose stem reads 6 channels, then 1x1 squeeze, two 3x3 convs, 1x1 to 6.
    pose = on_meta("monodepth2-pose-resnet18")
    assert count(pose.encoder) == RESNET18_TRUNK + 64 * 3 * 7 * 7
    assert count(pose) - count(pose.encoder) == (512 * 256 + 256) + 2 * (256 * 256 * 9 + 256) + (256 * 6 + 6)


def test_smp_counts_full_size_on_meta():
    import segmentation_models_pytorch as smp

    with torch.device("meta"):
        lib_psp = smp.PSPNet("resnet101", encoder_weights=None, encoder_depth=5, classes=19, upsampling=8)
    # smp 0.6: DeepLabV3Plus("resnet101", classes=19) has 45,674,339 parameters (the ASPP rates change none)
    dlv3p = on_meta("deeplabv3plus-resnet101", num_classes=19).eval()
    assert count(dlv3p) == 45_674_339
    assert count(dlv3p.encoder) == RESNET101_TRUNK
    assert dlv3p(META_X).shape == (1, 19, 64, 64) and dlv3p.encoder(META_X)[-1].shape[-1] == 64 // 16
    # WideResNet-101-2 stand-in for WRN-38: encoder = timm/torchvision wide_resnet101_2 trunk (126,886,696 - fc).
    wide = on_meta("deeplabv3plus-wideresnet101", num_classes=19, output_stride=8)
    assert count(wide.encoder) == timm_trunk("wide_resnet101_2") == 126_886_696 - 2_049_000
    assert wide.encoder(META_X)[-1].shape[-2:] == (8, 8)
    # PSPNet-101: smp's network with the paper's 3x3 fusion conv (4096 -> 512) and 1x1 classifier in place of
    # smp's 1x1 fusion and 3x3 classifier.
    psp = on_meta("pspnet-resnet101", num_classes=19).eval()
    assert count(psp.encoder) == RESNET101_TRUNK
    assert count(psp) - count(lib_psp) == 4096 * 512 * (9 - 1) + 512 * 19 * (1 - 9)
    assert count(psp) == 65_583_187
    assert psp(META_X).shape == (1, 19, 64, 64) and psp.encoder(META_X)[-1].shape[-1] == 64 // 8  # dilated


def test_unet_counts_against_the_unetpp_paper():
    # Zhou et al. (DLMIA 2018), Table: U-Net 7.76M, UNet++ (no deep supervision) 9.04M parameters; masksup
    # Table 4 rounds U-Net++ to 9M. Ours (MONAI, transposed-conv up-sampling): 7.78M and 9.12M, within 1%.
    unet, unetpp = count(on_meta("unet")), count(on_meta("unetplusplus"))
    assert unet == 7_783_425 and abs(unet / 7.76e6 - 1) < 0.01
    assert unetpp == 9_119_233 and abs(unetpp / 9.04e6 - 1) < 0.01


@pytest.mark.parametrize("name, timm_name, extra, total, shapes", [
    # MobileNetV2 3,504,872 and ResNeXt-101 32x8d 88,791,336 (torchvision/timm), PVTv2-b2 25.4M (Wang et al.
    # 2022), all with their 1000-class classifiers; the pyramids drop the classifier (and, for the plain
    # MobileNetV2 pyramid, the 320 -> 1280 conv_head + BN: 412,160).
    ("encoder-mobilenetv2", "mobilenetv2_100", -412_160, 3_504_872 - 1_281_000 - 412_160,
     [(16, 32, 32), (24, 16, 16), (32, 8, 8), (96, 4, 4), (320, 2, 2)]),
    ("encoder-mobilenetv2-fastdepth", "mobilenetv2_100", 0, 3_504_872 - 1_281_000,
     [(16, 32, 32), (24, 16, 16), (32, 8, 8), (96, 4, 4), (1280, 2, 2)]),
    ("encoder-resnext101-32x8d", "resnext101_32x8d", 0, 88_791_336 - 2_049_000,
     [(256, 16, 16), (512, 8, 8), (1024, 4, 4), (2048, 2, 2)]),
    ("encoder-pvt-v2-b2", "pvt_v2_b2", 0, 25_362_856 - 513_000,
     [(64, 16, 16), (128, 8, 8), (320, 4, 4), (512, 2, 2)]),
])
def test_table_vi_encoders_full_size_on_meta(name, timm_name, extra, total, shapes):
    model = on_meta(name)
    assert count(model) == timm_trunk(timm_name) + extra == total
    assert [tuple(f.shape[1:]) for f in model(META_X)] == shapes
    assert [s[0] for s in shapes] == model.channels


# --- shapes --------------------------------------------------------------------------------------------------



@pytest.mark.parametrize("name, kw", [
    ("deeplabv3plus", dict(encoder="resnet18", num_classes=5)),
    ("pspnet", dict(encoder="resnet18", num_classes=5)),
    ("unet", dict(num_classes=5, features=(4, 8, 8, 16, 16))),
    ("unetplusplus", dict(num_classes=5, features=(4, 8, 8, 16, 16))),
    ("hrnetv2-w18-small", dict(num_classes=5)),
    ("refinenet-lw-50", dict(encoder="resnet18", num_classes=5)),
    ("monodepth2-resnet18-seg", dict(num_classes=5)),
])
def test_segmentation_logits_at_input_size(name, kw):
    model = build_model(name, seed=0, **kw).eval()
    with torch.no_grad():
        assert model(X).shape == (1, 5, 64, 64)


def test_output_stride_switch_on_a_small_encoder():
    for os_ in (8, 16):
        model = on_meta("deeplabv3plus", encoder="resnet18", output_stride=os_)
        assert model.encoder(META_X)[-1].shape[-1] == 64 // os_
    with pytest.raises(ValueError, match="output_stride"):
        build_model("deeplabv3plus", encoder="resnet18", output_stride=4)


def test_monodepth2_depth_pose_and_input_checks():
    depth = build_model("monodepth2-resnet18", seed=0).eval()
    with torch.no_grad():
        disp = depth(X)
    assert {s: tuple(d.shape) for s, d in disp.items()} == {s: (1, 1, 64 >> s, 64 >> s) for s in range(4)}
    assert all(((d > 0) & (d < 1)).all() for d in disp.values())  # sigmoid disparities
    pose = build_model("monodepth2-pose-resnet18", seed=0).eval()
    with torch.no_grad():
        axisangle, translation = pose(torch.rand(2, 6, 64, 64))
    assert axisangle.shape == translation.shape == (2, 1, 1, 3)
    with pytest.raises(ValueError, match="multiple of 32"):
        depth(torch.rand(1, 3, 48, 64))
    with pytest.raises(ValueError, match=r"\(B, 6, H, W\)"):
        pose(X)


def test_mobilenet_pyramid_runs_on_cpu():
    feats = build_model("encoder-mobilenetv2-fastdepth", seed=0).eval()(X)
    assert [f.shape[1] for f in feats] == [16, 24, 32, 96, 1280] and feats[-1].shape[-1] == 2


def test_in_channels():
    model = build_model("unet", in_channels=1, num_classes=2, features=(4, 4, 8, 8, 8)).eval()
    assert model(torch.rand(1, 1, 32, 32)).shape == (1, 2, 32, 32)
    with torch.device("meta"):
        hrnet = build_model("hrnetv2-w18-small", in_channels=4).eval()
        assert hrnet(torch.empty(1, 4, 64, 64)).shape == (1, 19, 64, 64)


# --- registry errors and seeds -------------------------------------------------------------------------------

def test_unknown_model_lists_available():
    with pytest.raises(KeyError, match=r"Unknown model 'deeplabv4'\. Available models: .*hrnetv2-w48"):
        build_model("deeplabv4")
    with pytest.raises(UnknownNameError) as err:
        build_model("deeplabv4")
    assert str(err.value).startswith("Unknown model")  # the plain message, not a KeyError repr


@pytest.mark.parametrize("name, kw, listed", [
    ("deeplabv3plus", dict(encoder="resnet1O1"), "resnet101"),
    ("deeplabv3-resnet50", dict(encoder="resnet51"), "resnet50"),
    ("monodepth2-resnet18", dict(encoder="resnet19"), "resnet18"),
    ("refinenet-lw-50", dict(encoder="resnet_50"), "resnet50"),
])
def test_unknown_encoder_lists_available(name, kw, listed):
    with pytest.raises(KeyError, match=f"Unknown .*encoder '{kw['encoder']}'.*Available .*{listed}"):
        with torch.device("meta"):
            build_model(name, **kw)


def test_register_rejects_duplicates():
    with pytest.raises(ValueError, match="already registered"):
        register("unet", lambda **kw: torch.nn.Identity())


def test_seed_makes_initialisation_reproducible():
    kw = dict(num_classes=2, features=(4, 4, 8, 8, 8))
    a, b = build_model("unet", seed=3, **kw), build_model("unet", seed=3, **kw)
    c = build_model("unet", seed=4, **kw)
    assert all(torch.equal(p, q) for p, q in zip(a.parameters(), b.parameters()))
    assert not all(torch.equal(p, q) for p, q in zip(a.parameters(), c.parameters()))


def test_pretrained_true_asks_the_hub_and_is_never_the_default(monkeypatch):
    from densepred.models import registry

    seen = []
    registry._load_builtins()
    monkeypatch.setitem(registry._REGISTRY, "fake-net", lambda hub=False, **kw: seen.append(hub) or torch.nn.Identity())
    build_model("fake-net")
    build_model("fake-net", pretrained=True)
    assert seen == [False, True]
    # a real family: pretrained=True asks torchvision for its ImageNet weights (builder patched: no download)
    from densepred.models import monodepth2

    asked = []
    builder, weights = monodepth2.ENCODERS["resnet18"]
    monkeypatch.setitem(monodepth2.ENCODERS, "resnet18",
                        (lambda weights=None, **kw: asked.append(weights) or builder(weights=None, **kw), weights))
    with torch.device("meta"):
        build_model("monodepth2-resnet18")
        build_model("monodepth2-resnet18", pretrained=True)
    assert asked == [None, torchvision.models.ResNet18_Weights.IMAGENET1K_V1]


def test_pretrained_true_for_a_factory_without_hub_weights(monkeypatch):
    from densepred.models import registry

    registry._load_builtins()
    monkeypatch.setitem(registry._REGISTRY, "plain-net", lambda **kw: torch.nn.Conv2d(1, 1, 1, **kw))
    assert isinstance(build_model("plain-net"), torch.nn.Conv2d)  # no ``hub`` keyword passed
    with pytest.raises(ValueError, match="'plain-net' has no hub weights"):
        build_model("plain-net", pretrained=True)
    with pytest.raises(ValueError, match="U-Net has no published hub weights"):
        build_model("unet", pretrained=True)


def test_pretrained_rejects_other_types():
    with pytest.raises(TypeError, match="pretrained must be None, True or a path"):
        build_model("unet", pretrained=1)


# --- pretrained weights from disk ----------------------------------------------------------------------------

def test_torchvision_and_timm_resnet_checkpoints_load_into_the_encoder(tmp_path):
    import timm

    tv = torchvision.models.resnet18(weights=None)
    torch.save(tv.state_dict(), tmp_path / "tv.pth")
    with pytest.warns(UserWarning, match=r"unused from the file: fc\.bias, fc\.weight"):
        model = build_model("monodepth2-resnet18-seg", pretrained=tmp_path / "tv.pth", num_classes=3)
    assert torch.equal(model.encoder.layer4[1].conv2.weight, tv.layer4[1].conv2.weight)
    report = model.densepred_pretrained_report
    assert report.mode == "encoder" and report.unused == ["fc.bias", "fc.weight"]

    tm = timm.create_model("resnet18", num_classes=0)  # timm names = torchvision names (no classifier here)
    torch.save(tm.state_dict(), tmp_path / "timm.pth")
    model = build_model("monodepth2-resnet18", pretrained=str(tmp_path / "timm.pth"))
    assert torch.equal(model.encoder.conv1.weight, tm.conv1.weight)
    refine = build_model("refinenet-lw-50", encoder="resnet18", pretrained=tmp_path / "timm.pth")
    assert torch.equal(refine.encoder.model.layer1[0].conv1.weight, tm.layer1[0].conv1.weight)
    dlv3p = build_model("deeplabv3plus", encoder="resnet18", pretrained=tmp_path / "timm.pth")  # smp encoder
    assert torch.equal(dlv3p.encoder.layer2[0].downsample[0].weight, tm.layer2[0].downsample[0].weight)


def test_timm_hrnet_classification_checkpoint_loads_into_hrnetv2(tmp_path):
    import timm

    cls = timm.create_model("hrnet_w18_small")  # with incre/downsample/final layers and classifier
    torch.save(cls.state_dict(), tmp_path / "hrnet.pth")
    with pytest.warns(UserWarning, match="unused from the file: classifier"):
        model = build_model("hrnetv2-w18-small", pretrained=tmp_path / "hrnet.pth")
    assert model.densepred_pretrained_report.mode == "encoder"
    assert torch.equal(model.encoder.stage4[0].branches[3][0].conv1.weight, cls.stage4[0].branches[3][0].conv1.weight)
    assert all(k.startswith(("classifier", "incre_modules", "downsamp_modules", "final_layer"))
               for k in model.densepred_pretrained_report.unused)


def test_whole_model_checkpoints_round_trip(tmp_path):
    kw = dict(num_classes=3, features=(4, 4, 8, 8, 8))
    src = build_model("unetplusplus", seed=0, **kw)
    torch.save(src.state_dict(), tmp_path / "plain.pt")
    # a Lightning-style checkpoint: {"state_dict": {"model.<key>": tensor}} plus non-tensor entries
    torch.save({"epoch": 3, "state_dict": {f"model.{k}": v for k, v in src.state_dict().items()}},
               tmp_path / "lightning.ckpt")
    for file in ("plain.pt", "lightning.ckpt"):
        dst = build_model("unetplusplus", seed=1, pretrained=tmp_path / file, **kw)
        assert dst.densepred_pretrained_report.mode == "model"
        assert all(torch.equal(a, b) for a, b in zip(src.state_dict().values(), dst.state_dict().values()))


@pytest.fixture(scope="module")
def depth_checkpoint(tmp_path_factory):
    """A Monodepth2 ResNet-18 depth network (seed 0) and the path of its saved state_dict."""
    depth = build_model("monodepth2-resnet18", seed=0)
    path = tmp_path_factory.mktemp("depth") / "depth.pt"
    torch.save(depth.state_dict(), path)
    return depth, path


def test_depth_checkpoint_into_segmentation_variant_keeps_all_but_the_head(depth_checkpoint):
    depth, path = depth_checkpoint
    with pytest.warns(UserWarning, match="kept at random initialisation: decoder.heads.0"):
        seg = build_model("monodepth2-resnet18-seg", seed=1, num_classes=4, pretrained=path)
    assert torch.equal(seg.decoder.upconvs["0_1"].conv.conv.weight, depth.decoder.upconvs["0_1"].conv.conv.weight)
    assert seg.decoder.heads["0"].conv.weight.shape == (4, 16, 3, 3)
    unused = seg.densepred_pretrained_report.unused  # the depth heads: 0 has another shape, 1..3 are gone
    assert {k.split(".")[2] for k in unused} == {"0", "1", "2", "3"} and all(k.startswith("decoder.heads.")
                                                                               for k in unused)


def test_depth_network_encoder_initialises_another_architecture(depth_checkpoint):
    # depth-pretraining's "cross architecture" setting: the depth network's encoder into a DeepLab encoder
    depth, path = depth_checkpoint
    with pytest.warns(UserWarning, match="unused from the file: decoder"):
        seg = build_model("deeplabv3plus", encoder="resnet18", num_classes=3, pretrained=path)
    report = seg.densepred_pretrained_report
    assert report.mode == "encoder" and all(k.startswith("decoder.") for k in report.unused)
    assert len(report.loaded) == len(depth.encoder.state_dict())
    assert torch.equal(seg.encoder.layer3[1].bn2.running_var, depth.encoder.layer3[1].bn2.running_var)


def test_official_monodepth2_checkpoint_layout_converts(tmp_path, depth_checkpoint):
    # Monodepth2's published files, rebuilt in their layout (names from its public code) from our shapes.
    from densepred.models.monodepth2 import from_official

    ours = depth_checkpoint[0].state_dict()
    blocks = [(i, j) for i in range(4, -1, -1) for j in (0, 1)]
    official_encoder = {"height": 192, "width": 640, "use_stereo": False,
                        **{k: v for k, v in ours.items() if k.startswith("encoder.")}}
    official_depth = {}
    for n, (i, j) in enumerate(blocks):
        for p in ("weight", "bias"):
            official_depth[f"decoder.{n}.conv.conv.{p}"] = ours[f"decoder.upconvs.{i}_{j}.conv.conv.{p}"]
    for s in range(4):
        for p in ("weight", "bias"):
            official_depth[f"decoder.{10 + s}.conv.{p}"] = ours[f"decoder.heads.{s}.conv.{p}"]
    converted = from_official(official_encoder, official_depth)
    assert converted.keys() == ours.keys()
    torch.save(converted, tmp_path / "mono.pt")
    model = build_model("monodepth2-resnet18", seed=1, pretrained=tmp_path / "mono.pt")
    assert all(torch.equal(a, b) for a, b in zip(model.state_dict().values(), ours.values()))
    pose = on_meta("monodepth2-pose-resnet18", num_frames_to_predict_for=2).state_dict()
    official_pose = {f"net.{n}.{p}": pose[f"{m}.{p}"] for n, m in enumerate(("squeeze", "pose.1", "pose.3", "pose.5"))
                     for p in ("weight", "bias")}
    enc = {k: v for k, v in pose.items() if k.startswith("encoder.")}
    assert from_official(enc, official_pose, kind="pose").keys() == pose.keys()


def test_rgb_checkpoint_adapts_the_pose_stem(tmp_path):
    tv = torchvision.models.resnet18(weights=None)
    torch.save(tv.state_dict(), tmp_path / "tv.pth")
    with pytest.warns(UserWarning):
        pose = build_model("monodepth2-pose-resnet18", pretrained=tmp_path / "tv.pth")
    w = tv.conv1.weight
    assert torch.allclose(pose.encoder.conv1.weight, torch.cat([w, w], dim=1) / 2)  # Monodepth2's rule
    assert pose.densepred_pretrained_report.adapted == ["encoder.conv1.weight"]


def test_missing_pretrained_file_names_path_and_model(tmp_path):
    path = tmp_path / "nope.pth"
    with pytest.raises(PretrainedFileNotFoundError, match=f"'unet' not found: {path} does not exist"):
        build_model("unet", pretrained=path)
    with pytest.raises(FileNotFoundError, match="pass the boolean True"):
        build_model("unet", pretrained="true")  # a CLI string, not the hub flag


def test_weights_that_do_not_fit_name_path_and_model(tmp_path):
    with torch.device("meta"):  # ResNet-50 shapes, uninitialised values (fast): a checkpoint of another depth
        shapes = {k: v.shape for k, v in torchvision.models.resnet50().state_dict().items()}
    torch.save({k: torch.empty(v) for k, v in shapes.items()}, tmp_path / "r50.pth")
    with pytest.raises(PretrainedWeightsError, match=r"r50\.pth do not fit model 'monodepth2-resnet18' "
                                                     r"\(matched as encoder weights\): .* other shapes"):
        build_model("monodepth2-resnet18", pretrained=tmp_path / "r50.pth")
    torch.save({"foo.weight": torch.zeros(3)}, tmp_path / "foreign.pth")
    with pytest.raises(PretrainedWeightsError, match="none of the file's tensors has a name the model uses"):
        build_model("unet", pretrained=tmp_path / "foreign.pth")
    (tmp_path / "junk.pth").write_text("not a checkpoint")
    with pytest.raises(PretrainedWeightsError, match=r"Cannot read pretrained weights .*junk\.pth for model 'unet'"):
        build_model("unet", pretrained=tmp_path / "junk.pth")


def test_truncated_checkpoint_lists_missing_tensors(tmp_path):
    kw = dict(num_classes=3, features=(4, 4, 8, 8, 8))
    sd = build_model("unet", **kw).state_dict()
    sd.pop("conv_0.conv_0.conv.weight")
    torch.save(sd, tmp_path / "partial.pt")
    with pytest.raises(PretrainedWeightsError, match=r"1 tensors the model needs are not in the file "
                                                     r"\(conv_0\.conv_0\.conv\.weight\)"):
        build_model("unet", pretrained=tmp_path / "partial.pt", **kw)
