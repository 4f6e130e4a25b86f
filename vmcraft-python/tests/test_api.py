"""The Python API's shape: every table call a method with its signature and
documentation, argument conversion, errors before anything runs. No root needed."""

from __future__ import annotations

import inspect

import pytest

import vmcraft


def test_every_table_call_is_a_documented_method():
    assert len(vmcraft.calls) > 400
    for entry in vmcraft.calls:
        for name in [entry["name"], *entry["aliases"]]:
            m = getattr(vmcraft.VMCraft, name)
            assert callable(m), name
            assert m.__doc__, name
    # A generated method: libguestfs's name, signature and documentation.
    m = vmcraft.VMCraft.part_add
    assert m.__name__ == "part_add"
    assert str(inspect.signature(m)).startswith("(self, device: 'str', prlogex: 'str', startsect: 'int'")
    assert "add a partition to the device" in m.__doc__
    assert "STARTSECT" in m.__doc__
    # Optional arguments are keyword-only, as in libguestfs's binding.
    sig = inspect.signature(vmcraft.VMCraft.add_drive_opts)
    assert sig.parameters["readonly"].kind is inspect.Parameter.KEYWORD_ONLY
    assert sig.parameters["format"].default is None
    assert "Optional arguments are keywords." in vmcraft.VMCraft.mkfs.__doc__
    assert "name:value" not in vmcraft.VMCraft.mkfs.__doc__.split("DESCRIPTION")[0]


def test_help_shows_libguestfs_style_docs(capsys):
    help(vmcraft.VMCraft.part_add)
    out = capsys.readouterr().out
    assert "part_add(self, device" in out
    assert "add a partition to the device" in out


def test_errors_are_runtime_errors_with_kinds():
    assert issubclass(vmcraft.Error, RuntimeError)
    for cls in [
        vmcraft.NotFoundError,
        vmcraft.InvalidArgumentError,
        vmcraft.ReadOnlyError,
        vmcraft.UnsupportedError,
        vmcraft.BusyError,
        vmcraft.CorruptError,
        vmcraft.StateError,
        vmcraft.MountError,
        vmcraft.CancelledError,
    ]:
        assert issubclass(cls, vmcraft.Error)
    g = vmcraft.VMCraft()
    with pytest.raises(vmcraft.StateError) as e:
        g.mount("/dev/sda1", "/")
    assert e.value.call == "mount"
    assert e.value.kind == "not_launched"
    assert e.value.device == "/dev/sda1"
    assert e.value.path is None
    assert isinstance(e.value, RuntimeError)


def test_settings_round_trip_and_return_types():
    g = vmcraft.VMCraft(python_return_dict=True)
    assert g.python_return_dict is True
    assert g.get_memsize() == 1280
    g.set_memsize(2048)
    assert g.get_memsize() == 2048
    v = g.version()
    assert isinstance(v, dict) and v["extra"] == "vmcraft"
    assert g.is_launched() is False
    assert g.list_devices() == []
    assert g.echo_daemon(["a", "b"]) == "a b"
    # libguestfs's default: hashes as (key, value) tuples.
    h = vmcraft.GuestFS(python_return_dict=False)
    assert h.python_return_dict is False


def test_bad_arguments_are_type_errors_and_change_nothing():
    g = vmcraft.VMCraft()
    with pytest.raises(TypeError, match="missing required argument: 'memsize'"):
        g.set_memsize()
    with pytest.raises(TypeError, match="takes 1 positional"):
        g.set_memsize(1, 2)
    with pytest.raises(TypeError, match="unexpected keyword argument 'nope'"):
        g.add_drive_opts("x.img", nope=True)
    with pytest.raises(TypeError):
        g.set_memsize("512")
    with pytest.raises(TypeError):
        g.set_memsize(512.0)
    with pytest.raises(TypeError, match="list of str"):
        g.command("ls /")
    # Out of 32-bit range: refused by the table, a vmcraft error.
    with pytest.raises(vmcraft.InvalidArgumentError) as e:
        g.set_memsize(1 << 40)
    assert e.value.call == "set_memsize"
    assert g.get_memsize() == 1280


def test_seed_lvcreate_needs_one_size():
    g = vmcraft.VMCraft()
    with pytest.raises(vmcraft.InvalidArgumentError) as e:
        g.lvcreate("lv", "vg")
    assert e.value.call == "lvcreate"
    with pytest.raises(vmcraft.InvalidArgumentError):
        g.lvcreate("lv", "vg", 10, extents=3)


def test_context_manager_without_drives():
    with vmcraft.VMCraft() as g:
        assert isinstance(g, vmcraft.VMCraft)
    # Shut down twice is harmless.
    g.close()


def test_a_rust_panic_is_a_vmcraft_error():
    g = vmcraft.VMCraft()
    with pytest.raises(vmcraft.Error) as e:
        g._panic_for_test()
    assert "internal error" in str(e.value) and "on purpose" in str(e.value)
    assert e.value.kind == "panic"
    # The handle still works.
    assert g.get_memsize() == 1280
